"""The arena planner: no two live tensors overlap, in-place reuse, budget errors name the need."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.codegen.memplan import check_sram, plan_memory
from mcumixq.errors import BudgetError, ConfigError
from mcumixq.ir.graph import Graph, Op, Requant, TensorSpec
from mcumixq.packing.layout import tensor_bytes


def _t(name: str, shape: tuple[int, ...], bits: int = 8) -> TensorSpec:
    return TensorSpec(name=name, shape=shape, bits=bits, scale=1.0, zero_point=0)


def _rq(c: int) -> Requant:
    return Requant(
        multiplier=np.full(c, 1 << 30, np.int32),
        shift=np.full(c, 31, np.int32),
        act_min=0,
        act_max=255,
    )


def _pool(name: str, src: str, dst: str) -> Op:
    return Op(name=name, kind="maxpool", inputs=(src,), output=dst, kernel=(1, 1))


def _chain(sizes: list[int], bits: list[int]) -> Graph:
    """A chain x -> t1 -> ... -> y of weightless ops with the given channel counts."""
    names = ["x"] + [f"t{i}" for i in range(1, len(sizes) - 1)] + ["y"]
    tensors = {n: _t(n, (4, 4, c), b) for n, c, b in zip(names, sizes, bits, strict=True)}
    ops = tuple(_pool(f"op{i}", names[i], names[i + 1]) for i in range(len(names) - 1))
    return Graph(name="chain", input="x", output="y", tensors=tensors, ops=ops)


def _residual() -> Graph:
    """x -> a -> b; add(a, b) -> c -> y: `a` must stay live across b."""
    tensors = {n: _t(n, (8, 8, 8)) for n in ("x", "a", "b", "c", "y")}
    ops = (
        _pool("p0", "x", "a"),
        _pool("p1", "a", "b"),
        Op(name="add", kind="add", inputs=("a", "b"), output="c", requant=_rq(2)),
        _pool("p2", "c", "y"),
    )
    return Graph(name="res", input="x", output="y", tensors=tensors, ops=ops)


def _assert_no_overlap(plan) -> None:
    ps = plan.placements + plan.scratch
    for i, p in enumerate(ps):
        assert p.offset % 4 == 0
        for q in ps[i + 1 :]:
            live = p.first <= q.last and q.first <= p.last
            disjoint = p.offset + p.size <= q.offset or q.offset + q.size <= p.offset
            same = p.offset == q.offset and (p.last == q.first or q.last == p.first)
            assert not live or disjoint or same, (p, q)


def test_chain_ping_pongs_two_buffers() -> None:
    g = _chain([8, 8, 8, 8, 8], [8] * 5)
    plan = plan_memory(g)
    assert [p.tensor for p in plan.placements] == ["t1", "t2", "t3"]
    assert plan.arena_bytes == 2 * 128  # t1 and t3 share, t2 beside them
    assert plan.offset("t1") == plan.offset("t3") != plan.offset("t2")
    assert plan.input_bytes == plan.output_bytes == 128
    _assert_no_overlap(plan)


def test_inplace_shares_the_buffer_only_when_allowed() -> None:
    g = _chain([8, 8, 8, 8], [8] * 4)
    plan = plan_memory(g, inplace={"op1": True})
    assert plan.offset("t1") == plan.offset("t2")
    assert plan.arena_bytes == 128
    assert plan_memory(g).arena_bytes == 256


def test_residual_keeps_the_skip_alive() -> None:
    plan = plan_memory(_residual(), inplace={"add": True})
    a, b = plan.offset("a"), plan.offset("b")
    assert a != b
    assert plan.offset("c") == a  # add writes over its first input, which dies there
    _assert_no_overlap(plan)


def test_scratch_lives_only_during_its_layer() -> None:
    g = _chain([8, 8, 8, 1, 1], [8] * 5)  # t1, t2: 128 B; t3: 16 B
    plan = plan_memory(g, scratch={"op0": 10, "op3": 200})
    assert plan.scratch_offset("op1") is None and plan.scratch_bytes == 200
    assert plan.scratch_offset("op0") == 128  # beside t1, the only live tensor at op0
    # op3 runs when t1 and t2 are dead: its 200 B reuse their space instead of adding to the
    # 256 B tensor peak (greedy-by-size puts t3 after them: 272, the optimum would be 256)
    assert 256 <= plan.arena_bytes < 256 + 200
    _assert_no_overlap(plan)
    with pytest.raises(ConfigError, match="scratch_bytes=-1"):
        plan_memory(g, scratch={"op0": -1})


def test_sub_byte_sizes_come_from_the_layout() -> None:
    g = _chain([8, 5, 8], [8, 2, 8])
    plan = plan_memory(g)
    assert plan.placements[0].size == tensor_bytes((4, 4, 5), 2) == 32


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 40), st.sampled_from([2, 3, 4, 8])), min_size=3, max_size=9)
)
def test_random_chains_never_overlap_live_tensors(spec: list[tuple[int, int]]) -> None:
    g = _chain([c for c, _ in spec], [b for _, b in spec])
    plan = plan_memory(g)
    _assert_no_overlap(plan)
    sizes = [p.size for p in plan.placements]
    # no worse than a buffer per tensor, no better than the largest pair live at one op
    assert plan.arena_bytes <= sum((s + 3) // 4 * 4 for s in sizes)
    assert plan.arena_bytes >= max([a + b for a, b in itertools.pairwise(sizes)] + sizes)


def test_budget_error_names_budget_need_and_consumers() -> None:
    g = _chain([8, 64, 8], [8, 8, 8])
    plan = plan_memory(g)
    assert check_sram(plan, board="tiny", sram_bytes=10_000, reserved_bytes=0) == 1280
    with pytest.raises(
        BudgetError, match=r"needs 1280 B of SRAM but board tiny has 1000 B.*t1 1024 B"
    ):
        check_sram(plan, board="tiny", sram_bytes=1000, reserved_bytes=0)
