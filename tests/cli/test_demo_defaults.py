"""The demo's own defaults differ from search's where the demo promises accuracy (issue 7)."""

from __future__ import annotations

from mcumixq.cli.main import build_parser
from mcumixq.cli.pipeline import parse_bits_list


def test_demo_searches_activations_from_three_bits_but_search_keeps_two() -> None:
    parser = build_parser()
    demo = parser.parse_args(["demo", "--out", "x"])
    search = parser.parse_args(["search", "--out", "x"])
    assert parse_bits_list(demo.a_bits, "a_bits") == (3, 4, 5, 6, 8)
    assert 2 in parse_bits_list(demo.w_bits, "w_bits")
    assert 2 in parse_bits_list(search.a_bits, "a_bits")
    again = parser.parse_args(["demo", "--out", "x", "--a-bits", "2,8"])
    assert parse_bits_list(again.a_bits, "a_bits") == (2, 8)
