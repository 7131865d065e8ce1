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


def test_relaxed_budget_keeps_room_but_not_past_the_promise() -> None:
    from mcumixq.cli.pipeline import FLOOR_SLACK, PROMISE_MARGIN, relaxed_budget_ms

    # room enough: the target stands
    assert relaxed_budget_ms(40.0, 30.0, 43.0) == 40.0
    # the floor is close to the target: relaxed, capped below the promise
    assert relaxed_budget_ms(39.0, 38.3, 41.9) == 41.9 * PROMISE_MARGIN
    # the floor leaves room under the cap: FLOOR_SLACK above it
    assert relaxed_budget_ms(39.0, 35.0, 50.0) == 35.0 * FLOOR_SLACK
    # the promise is out of reach: the slack alone, never below the target
    assert relaxed_budget_ms(39.0, 45.0, 41.9) == 45.0 * FLOOR_SLACK
