"""Random and named integer graphs: the shared fixtures of kernel, codegen and emulator tests.

All builders return graphs that pass `validate_graph` and `check_accumulators`, with requant
parameters calibrated by `GraphBuilder` so random inputs give spread, non-saturated outputs.
Bits are per op: an int for all, a sequence indexed by op, a mapping by op name (FQN), or
None for a random legal width drawn from `rng`. No torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mcumixq.errors import ConfigError
from mcumixq.ir.bounds import check_accumulators
from mcumixq.ir.builder import GraphBuilder, Padding
from mcumixq.ir.graph import OP_KINDS, Graph
from mcumixq.numerics import LEGAL_BITS, check_bits

BitsSpec = int | Sequence[int] | Mapping[str, int] | None


def _bits(rng: np.random.Generator, spec: BitsSpec, index: int, name: str, default: int = 8) -> int:
    """Resolve a per-op bit-width from an int, a sequence, a name mapping or None (random)."""
    if spec is None:
        return int(rng.choice(LEGAL_BITS))
    if isinstance(spec, Mapping):
        return check_bits(spec.get(name, default), f"bits of {name}")
    if isinstance(spec, Sequence):
        if index >= len(spec):
            raise ConfigError(f"bits sequence {list(spec)} is too short for op #{index} ({name})")
        return check_bits(spec[index], f"bits of {name}")
    return check_bits(spec, f"bits of {name}")


def _finish(b: GraphBuilder, meta: dict[str, object]) -> Graph:
    graph = b.build(meta)
    check_accumulators(graph)
    return graph


def single_op_graph(
    rng: np.random.Generator,
    kind: str,
    *,
    in_shape: tuple[int, ...] = (8, 8, 8),
    out_channels: int | None = None,
    kernel: int | tuple[int, int] = 3,
    stride: int | tuple[int, int] | None = None,
    padding: Padding | None = None,
    depthwise: bool = False,
    w_bits: int = 8,
    a_bits_in: int = 8,
    a_bits_out: int | None = None,
    relu: bool = True,
    in_zero_point: int = 0,
) -> Graph:
    """A graph whose last op is one `kind` op on the input: the unit of a kernel test.

    conv2d defaults to 3x3 stride 1 'same'; linear takes `out_channels` features (any input
    shape, HWC-flattened); pools default to 2x2 stride 2 (avgpool: global when kernel is 0);
    `add` needs two tensors, so its graph is a 1x1 conv branch plus add(input, branch).
    """
    if kind not in OP_KINDS:
        raise ConfigError(f"kind {kind!r} is not one of {', '.join(OP_KINDS)}")
    b = GraphBuilder(
        rng, in_shape, a_bits=a_bits_in, zero_point=in_zero_point, name=f"single_{kind}"
    )
    if kind == "conv2d":
        pad = padding if padding is not None else "same"
        b.conv2d(
            out_channels, kernel=kernel, stride=stride or 1, padding=pad,
            depthwise=depthwise, w_bits=w_bits, a_bits=a_bits_out, relu=relu, name="op",
        )  # fmt: skip
    elif kind == "linear":
        b.linear(out_channels or 10, w_bits=w_bits, a_bits=a_bits_out, relu=relu, name="op")
    elif kind == "maxpool":
        b.maxpool(kernel, stride=stride, padding=padding if padding is not None else 0, name="op")
    elif kind == "avgpool":
        b.avgpool(kernel or None, stride=stride, a_bits=a_bits_out, name="op")
    else:
        branch = b.conv2d(kernel=1, w_bits=w_bits, relu=relu, name="branch")
        b.add("input", branch, a_bits=a_bits_out, relu=relu, name="op")
    return _finish(b, {"generator": "single_op_graph", "kind": kind})


TINY_CNN_WEIGHTED = ("features.0", "features.2", "features.3", "features.4", "classifier")
TINY_CNN_REQUANTIZED = (
    "features.0", "features.2", "features.3", "features.4", "features.5", "pool", "classifier",
)  # fmt: skip


def tiny_cnn(
    rng: np.random.Generator,
    w_bits: BitsSpec = 8,
    a_bits: BitsSpec = 8,
    in_shape: tuple[int, int, int] = (8, 8, 3),
    *,
    num_classes: int = 10,
) -> Graph:
    """conv3x3 -> maxpool -> depthwise 3x3 -> conv1x1 s2 -> conv3x3 -> residual add ->
    global avgpool -> linear: every op kind and variant in 8 ops.

    Bits by FQN (mapping), or as sequences: `w_bits` over TINY_CNN_WEIGHTED (5 entries),
    `a_bits` over ("input", *TINY_CNN_REQUANTIZED) (8 entries); maxpool keeps its input's bits.
    """
    ab = {n: _bits(rng, a_bits, i + 1, n) for i, n in enumerate(TINY_CNN_REQUANTIZED)}
    wb = {n: _bits(rng, w_bits, i, n) for i, n in enumerate(TINY_CNN_WEIGHTED)}
    b = GraphBuilder(rng, in_shape, a_bits=_bits(rng, a_bits, 0, "input"), name="tiny_cnn")
    b.conv2d(8, w_bits=wb["features.0"], a_bits=ab["features.0"], name="features.0")
    b.maxpool(2, name="features.1")
    b.conv2d(depthwise=True, w_bits=wb["features.2"], a_bits=ab["features.2"], name="features.2")
    skip = b.conv2d(
        16, kernel=1, stride=2, w_bits=wb["features.3"], a_bits=ab["features.3"], name="features.3"
    )
    body = b.conv2d(16, w_bits=wb["features.4"], a_bits=ab["features.4"], name="features.4")
    b.add(skip, body, a_bits=ab["features.5"], relu=True, name="features.5")
    b.avgpool(a_bits=ab["pool"], name="pool")
    b.linear(num_classes, w_bits=wb["classifier"], a_bits=ab["classifier"], name="classifier")
    return _finish(b, {"generator": "tiny_cnn"})


def tinyvgg(
    rng: np.random.Generator,
    w_bits: BitsSpec = 8,
    a_bits: BitsSpec = 8,
    in_shape: tuple[int, int, int] = (28, 28, 1),
    *,
    channels: tuple[int, int, int] = (16, 32, 64),
    num_classes: int = 10,
) -> Graph:
    """TinyVGG (DESIGN §8; width 0.25 by default: 3x3 convs 16,16,M,32,32,M,64,64,M, FC)
    with random calibrated weights: the whole-network benchmark shape."""
    b = GraphBuilder(rng, in_shape, a_bits=_bits(rng, a_bits, 0, "input"), name="tinyvgg")
    k = 0
    for stage, c in enumerate(channels):
        for _ in range(2):
            name = f"features.{k}"
            b.conv2d(
                c,
                w_bits=_bits(rng, w_bits, stage * 2, name),
                a_bits=_bits(rng, a_bits, stage * 2 + 1, name),
                name=name,
            )
            k += 1
        b.maxpool(2, name=f"features.{k}")
        k += 1
    n = len(channels) * 2
    b.linear(
        num_classes,
        w_bits=_bits(rng, w_bits, n, "classifier"),
        a_bits=_bits(rng, a_bits, n + 1, "classifier"),
        name="classifier",
    )
    return _finish(b, {"generator": "tinyvgg"})


def _random_conv(rng: np.random.Generator, b: GraphBuilder, w: int, a: int) -> None:
    h, wd, c = b.spec().shape
    kh = int(rng.choice([k for k in (1, 2, 3, 5) if k <= h]))
    kw = (
        kh
        if rng.random() < 0.7 and kh <= wd
        else int(rng.choice([k for k in (1, 2, 3, 5) if k <= wd]))
    )
    pad = tuple(int(rng.integers(0, k)) for k in (kh, kw, kh, kw))
    depthwise = c > 1 and rng.random() < 0.3
    b.conv2d(
        int(rng.integers(1, 9)), kernel=(kh, kw), stride=int(rng.choice([1, 1, 2])), padding=pad,
        depthwise=depthwise, w_bits=w, a_bits=a, relu=bool(rng.random() < 0.7),
    )  # fmt: skip


def _random_pool(rng: np.random.Generator, b: GraphBuilder, kind: str, a: int) -> None:
    h, wd, _ = b.spec().shape
    k = (int(rng.integers(1, min(h, 3) + 1)), int(rng.integers(1, min(wd, 3) + 1)))
    stride = (int(rng.integers(1, k[0] + 1)), int(rng.integers(1, k[1] + 1)))
    if kind == "maxpool":
        pad = tuple(int(rng.integers(0, n)) for n in (k[0], k[1], k[0], k[1]))
        b.maxpool(k, stride=stride, padding=pad)
    elif rng.random() < 0.4:
        b.avgpool(None, a_bits=a)
    else:
        b.avgpool(k, stride=stride, a_bits=a)


def random_graph(
    rng: np.random.Generator,
    *,
    kinds: Sequence[str] = ("conv2d",),
    input_shape: tuple[int, ...] = (8, 8, 4),
    w_bits: BitsSpec = 8,
    a_bits: BitsSpec = 8,
    in_zero_point: int | None = 0,
) -> Graph:
    """A chain with one op per entry of `kinds` and random geometry (kernel, stride, asymmetric
    padding, depthwise, channel counts). `add` inserts a conv branch and adds it to the current
    tensor; after a `linear` only `linear` may follow. a_bits[0] is the input's bits, a_bits[i+1]
    the output of op i; in_zero_point None draws a random input zero point."""
    in_bits = _bits(rng, a_bits, 0, "input")
    z = int(rng.integers(0, 2**in_bits)) if in_zero_point is None else in_zero_point
    b = GraphBuilder(rng, input_shape, a_bits=in_bits, zero_point=z, name="random")
    for i, kind in enumerate(kinds):
        w, a = _bits(rng, w_bits, i, kind), _bits(rng, a_bits, i + 1, kind)
        if kind not in OP_KINDS:
            raise ConfigError(f"kinds[{i}]={kind!r} is not one of {', '.join(OP_KINDS)}")
        if kind != "linear" and len(b.spec().shape) != 3:
            raise ConfigError(f"kinds[{i}]={kind!r} cannot follow a linear layer (vector input)")
        if kind == "conv2d":
            _random_conv(rng, b, w, a)
        elif kind == "linear":
            b.linear(int(rng.integers(1, 11)), w_bits=w, a_bits=a, relu=bool(rng.random() < 0.5))
        elif kind == "add":
            skip = b.current
            branch = b.conv2d(b.spec().shape[2], kernel=int(rng.choice([1, 3])), w_bits=w, a_bits=a)
            b.add(skip, branch, a_bits=a, relu=bool(rng.random() < 0.5))
        else:
            _random_pool(rng, b, kind, a)
    return _finish(b, {"generator": "random_graph", "kinds": list(kinds)})
