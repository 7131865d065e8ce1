"""ir/bounds.py: each structural rule rejects its violation with a one-line, op-naming error."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.errors import ConfigError
from mcumixq.ir.bounds import (
    accumulator_bounds,
    check_accumulators,
    op_accumulator_bound,
    validate_graph,
)
from mcumixq.ir.graph import Graph, Op, Requant, TensorSpec
from mcumixq.ir.random_graph import single_op_graph, tiny_cnn, tinyvgg
from mcumixq.ir.reference import run_graph
from mcumixq.numerics import INT32_MAX, a_range, rescale

# tiny_cnn ops: 0 features.0 conv, 1 features.1 maxpool, 2 features.2 dw conv,
# 3 features.3 conv1x1 s2, 4 features.4 conv, 5 features.5 add, 6 pool avgpool, 7 classifier.


def _op(g: Graph, i: int, **changes: object) -> Graph:
    ops = list(g.ops)
    ops[i] = dataclasses.replace(ops[i], **changes)
    return dataclasses.replace(g, ops=tuple(ops))


def _rq(g: Graph, i: int, **changes: object) -> Graph:
    return _op(g, i, requant=dataclasses.replace(g.ops[i].requant, **changes))


def _tensor(g: Graph, tname: str, /, **changes: object) -> Graph:
    tensors = dict(g.tensors)
    tensors[tname] = dataclasses.replace(tensors[tname], **changes)
    return dataclasses.replace(g, tensors=tensors)


MUTATIONS: list[tuple[str, Callable[[Graph], Graph], str]] = [
    ("unknown kind", lambda g: _op(g, 1, kind="relu"), "features.1.*kind"),
    ("unknown input", lambda g: _op(g, 1, inputs=("nope",)), "features.1.*unknown tensor 'nope'"),
    ("arity", lambda g: _op(g, 5, inputs=(g.ops[5].inputs[0],)), "features.5.*inputs"),
    (
        "order",
        lambda g: dataclasses.replace(g, ops=(g.ops[1], g.ops[0], *g.ops[2:])),
        "before it is produced",
    ),
    ("double output", lambda g: _op(g, 1, output=g.ops[0].output), "already produced"),
    ("double name", lambda g: _op(g, 1, name="features.0"), "FQNs must be unique"),
    (
        "weight dtype",
        lambda g: _op(g, 0, weight=g.ops[0].weight.astype(np.int16)),
        "features.0.*weight.*int16",
    ),
    ("weight range", lambda g: _op(g, 0, w_bits=2), "features.0.*weight.*outside \\[-2, 1\\]"),
    ("w_bits", lambda g: _op(g, 0, w_bits=9), "features.0.*w_bits"),
    (
        "bias dtype",
        lambda g: _op(g, 0, bias=g.ops[0].bias.astype(np.int64)),
        "features.0.*bias.*int64",
    ),
    ("bias shape", lambda g: _op(g, 0, bias=g.ops[0].bias[:-1]), "features.0.*bias.*shape"),
    ("no requant", lambda g: _op(g, 0, requant=None), "features.0.*requant"),
    (
        "M low",
        lambda g: _rq(g, 0, multiplier=np.full(8, 2**30 - 1, np.int32)),
        "multiplier.*2\\^30",
    ),
    ("M dtype", lambda g: _rq(g, 0, multiplier=np.full(8, 2**30, np.int64)), "multiplier.*int64"),
    ("shift", lambda g: _rq(g, 0, shift=np.full(8, 63, np.int32)), "shift.*\\[0, 62\\]"),
    ("act_max", lambda g: _rq(g, 0, act_max=16), "features.0.*act_min/act_max"),
    ("act order", lambda g: _rq(g, 0, act_min=5, act_max=4), "act_min/act_max"),
    ("tensor bits", lambda g: _tensor(g, "input", bits=9), "tensor 'input'.*bits"),
    ("zero point", lambda g: _tensor(g, "input", zero_point=16), "tensor 'input'.*zero_point"),
    ("scale", lambda g: _tensor(g, "input", scale=float("nan")), "scale"),
    ("shape rank", lambda g: _tensor(g, "input", shape=(8, 8)), "tensor 'input'.*shape"),
    (
        "conv out shape",
        lambda g: _tensor(g, "features.0.out", shape=(7, 8, 8)),
        "features.0.*output shape",
    ),
    ("groups", lambda g: _op(g, 2, groups=2), "features.2.*groups"),
    (
        "dw weight",
        lambda g: _op(g, 2, weight=np.zeros((8, 3, 3, 8), np.int8)),
        "features.2.*weight.*shape",
    ),
    ("kernel vs weight", lambda g: _op(g, 0, kernel=(2, 2)), "features.0"),
    ("stride 0", lambda g: _op(g, 1, stride=(0, 2)), "features.1.*stride"),
    ("pad negative", lambda g: _op(g, 0, padding=(-1, 1, 1, 1)), "features.0.*padding"),
    (
        "maxpool params",
        lambda g: _tensor(g, "features.1.out", zero_point=1),
        "features.1.*quantization",
    ),
    ("maxpool pad", lambda g: _op(g, 1, padding=(2, 0, 0, 0)), "features.1"),
    ("maxpool weight", lambda g: _op(g, 1, w_bits=8), "features.1.*w_bits.*None"),
    ("avgpool pad", lambda g: _op(g, 6, padding=(0, 0, 1, 1)), "pool.*padding"),
    ("avgpool requant", lambda g: _op(g, 6, requant=g.ops[0].requant), "pool.*multiplier.*shape"),
    (
        "add shapes",
        lambda g: _op(g, 5, inputs=("features.3.out", "features.2.out")),
        "features.5.*shapes",
    ),
    ("linear stride", lambda g: _op(g, 7, stride=(2, 2)), "classifier.*defaults"),
    ("linear K", lambda g: _op(g, 7, weight=g.ops[7].weight[:, :-1]), "classifier.*weight.*shape"),
    ("output", lambda g: dataclasses.replace(g, output="input"), "produced by no op"),
    ("input", lambda g: dataclasses.replace(g, input="nope"), "input tensor 'nope'"),
    ("no ops", lambda g: dataclasses.replace(g, ops=()), "non-empty"),
    (
        "key",
        lambda g: dataclasses.replace(g, tensors={**g.tensors, "alias": g.tensors["input"]}),
        "alias",
    ),
]


@pytest.fixture(scope="module")
def graph() -> Graph:
    return tiny_cnn(np.random.default_rng(3), 8, 4)


def test_valid_graph_passes(graph: Graph) -> None:
    validate_graph(graph)
    check_accumulators(graph)


@pytest.mark.parametrize(("case", "mutate", "match"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_violation_is_named(
    graph: Graph, case: str, mutate: Callable[[Graph], Graph], match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        validate_graph(mutate(graph))
    assert "\n" not in str(info.value), case


def _linear_graph(k: int, w: int, z: int, bias: int = 0) -> Graph:
    t = {
        "x": TensorSpec(name="x", shape=(k,), bits=8, scale=1.0, zero_point=z),
        "y": TensorSpec(name="y", shape=(1,), bits=8, scale=1.0, zero_point=0),
    }
    op = Op(
        name="head.fc", kind="linear", inputs=("x",), output="y", w_bits=8,
        weight=np.full((1, k), w, np.int8), bias=np.array([bias], np.int32),
        requant=Requant(multiplier=np.full(1, 2**30, np.int32), shift=np.full(1, 40, np.int32),
                        act_min=0, act_max=255),
    )  # fmt: skip
    return Graph(name="fc", input="x", output="y", tensors=t, ops=(op,))


def test_accumulator_overflow_names_layer_bound_and_k() -> None:
    k = INT32_MAX // (255 * 127)  # 66311: the largest K of all-127 weights at z = 0
    check_accumulators(_linear_graph(k, 127, 0))
    with pytest.raises(
        ConfigError, match=rf"'head.fc' \(linear\).*{255 * 127 * (k + 1)}.*K={k + 1}"
    ):
        check_accumulators(_linear_graph(k + 1, 127, 0))
    # a zero point of 128 halves |x - z|, so the same K is safe on the negative side too
    check_accumulators(_linear_graph(k + 1, 127, 128))


def test_avgpool_bound_is_tight() -> None:
    g = single_op_graph(
        np.random.default_rng(11),
        "avgpool",
        in_shape=(2, 2, 2),
        kernel=2,
        a_bits_in=2,
        in_zero_point=1,
    )
    assert op_accumulator_bound(g, g.ops[-1]) == 4 * 2  # K = 4 taps of max |x - z| = |3 - 1|


def test_add_bound_covers_every_extreme() -> None:
    g = single_op_graph(
        np.random.default_rng(5), "add", in_shape=(2, 2, 2), a_bits_in=3, in_zero_point=2
    )
    op = g.ops[-1]
    ends = []
    for name in op.inputs:
        t = g.tensors[name]
        ends.append((-t.zero_point, a_range(t.bits)[1] - t.zero_point))
    rq, z = op.requant, g.tensors[op.output].zero_point
    worst = max(
        abs(
            z
            + sum(
                int(rescale(v, int(rq.multiplier[i]), int(rq.shift[i]))) for i, v in enumerate(vs)
            )
        )
        for vs in itertools.product(*ends)
    )
    bound = op_accumulator_bound(g, op)
    assert accumulator_bounds(g)[op.name] == bound
    assert worst <= bound <= worst + 2


def test_real_models_fit_int32() -> None:
    check_accumulators(tinyvgg(np.random.default_rng(0), 8, 8))


OP_FIELDS = ("name", "kind", "inputs", "output", "weight", "bias", "requant", "w_bits", "kernel",
             "stride", "padding", "groups")  # fmt: skip
TENSOR_FIELDS = ("name", "shape", "bits", "scale", "zero_point")
JUNK: tuple[object, ...] = (
    None, True, 0, -1, 3, 2**40, 1.5, float("inf"), "x", "", (), (1,), (0, 0), (3, 3), (1, 1, 1, 1),
    ["a"], np.zeros(3, np.int8), np.zeros((2, 2), np.int32), np.array([2**30], np.int64),
    np.zeros((8, 3, 3, 3), np.int8), np.int64(2),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    target=st.sampled_from(["op", "tensor", "requant", "graph"]), index=st.integers(0, 20),
    field=st.integers(0, 20), junk=st.sampled_from(JUNK),
)  # fmt: skip
def test_any_junk_field_is_config_error_or_runs(
    graph: Graph, target: str, index: int, field: int, junk: object
) -> None:
    """Graphs built in code may hold any Python value: validation never crashes on them."""
    g = graph
    if target == "graph":
        g = dataclasses.replace(g, **{("name", "input", "output", "meta")[field % 4]: junk})
    elif target == "tensor":
        name = list(g.tensors)[index % len(g.tensors)]
        g = _tensor(g, name, **{TENSOR_FIELDS[field % len(TENSOR_FIELDS)]: junk})
    else:
        i = index % len(g.ops)
        if target == "requant" and g.ops[i].requant is not None:
            f = ("multiplier", "shift", "act_min", "act_max")[field % 4]
            g = _rq(g, i, **{f: junk})
        else:
            g = _op(g, i, **{OP_FIELDS[field % len(OP_FIELDS)]: junk})
    try:
        validate_graph(g)
    except ConfigError as err:
        assert "\n" not in str(err)
        return
    spec = g.tensors[g.input]
    run_graph(g, np.random.default_rng(0).integers(0, 2**spec.bits, size=(2, *spec.shape)))
