"""Export a prepared QAT model (`quant.prepare_qat`) to the integer graph of `ir.graph`.

The fake-quant forward was built to mirror the integer arithmetic, so export only reads numbers
back: integer weights and biases come from the same torch functions the forward pass uses
(`weight_int`, `bias_int`), tensor scales and zero points from the tensor quantizers, and each
requantization multiplier is `numerics.quantize_multiplier(s_in * s_w[c] / s_out)`. Layout
changes happen here and only here: OIHW -> OHWI, and the first linear after a flatten gets its
columns permuted from torch's CHW flatten order to the graph's HWC order.

The only ir module that imports torch (STYLE §3). The network input rule (`pixels_to_input`) is
plain NumPy and recorded in `graph.meta["input_rule"]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from mcumixq.errors import ConfigError
from mcumixq.ir.bounds import check_accumulators, validate_graph
from mcumixq.ir.graph import Graph, Op, Requant, TensorSpec
from mcumixq.numerics import (
    INT32_MAX,
    INT32_MIN,
    a_range,
    accumulator_bound,
    fits_int32,
    quantize_multipliers,
)
from mcumixq.quant import rules
from mcumixq.quant.modules import QAdd, QConv2d, QLinear, activation_clamp
from mcumixq.quant.quantizers import ActQuant, InputQuant

INPUT_NAME = "input"
INPUT_RULE = "q = (pixel * (2**bits - 1) + 127) // 255"


def pixels_to_input(pixels: np.ndarray, bits: int) -> np.ndarray:
    """Integer network input from uint8 pixels (NHWC): the rule of `quant.InputQuant`."""
    qmax = a_range(bits)[1]
    return (np.asarray(pixels, dtype=np.int64) * qmax + 127) // 255


@dataclass(slots=True)
class _Pending:
    """A conv/linear/avgpool whose output tensor is fixed by the quantizer that follows it."""

    node: fx.Node
    module: nn.Module
    source: str
    act: str = "none"


def _pair(v: int | tuple[int, ...]) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


class _Exporter:
    """Walk the prepared fx graph once, collecting tensors and ops in execution order."""

    def __init__(self, gm: fx.GraphModule) -> None:
        self.gm = gm
        self.tensors: dict[str, TensorSpec] = {}
        self.ops: list[Op] = []
        self.tensor_of: dict[fx.Node, str] = {}
        self.pending: dict[fx.Node, _Pending] = {}
        self.output = ""

    def shape(self, node: fx.Node) -> tuple[int, ...]:
        s = tuple(int(d) for d in node.meta["tensor_meta"].shape[1:])
        return (s[1], s[2], s[0]) if len(s) == 3 else s

    def add_tensor(self, name: str, node: fx.Node, quant: nn.Module) -> str:
        bits = int(quant.bits)
        self.tensors[name] = TensorSpec(
            name=name,
            shape=self.shape(node),
            bits=bits,
            scale=float(quant.step_for(bits).detach()),
            zero_point=int(quant.zero_for(bits)),
        )
        self.tensor_of[node] = name
        return name

    def visit(self, node: fx.Node) -> None:
        if node.op == "output":
            self.output = self.tensor_of[node.args[0]]  # type: ignore[index]
            return
        if node.op == "placeholder":
            return
        mod = self.gm.get_submodule(str(node.target)) if node.op == "call_module" else None
        if isinstance(mod, InputQuant):
            self.add_tensor(INPUT_NAME, node, mod)
        elif isinstance(mod, ActQuant):
            self.finish(self.pending.pop(node.args[0]), node, mod)  # type: ignore[arg-type]
        elif isinstance(mod, (QConv2d, QLinear)):
            src: fx.Node = node.args[0]  # type: ignore[assignment]
            dims = len(src.meta["tensor_meta"].shape)
            if isinstance(mod, QLinear) and dims != 2:
                raise ConfigError(
                    f"linear {mod.fqn!r} reads a {dims}-D tensor; flatten it to "
                    "(batch, features) first, e.g. torch.flatten(x, 1)"
                )
            self.pending[node] = _Pending(node, mod, self.tensor_of[src])
        elif isinstance(mod, QAdd):
            self.add_op(node, mod)
        else:
            self.visit_plain(node)

    def visit_plain(self, node: fx.Node) -> None:
        kind = rules.node_kind(self.gm, node)
        src = node.args[0]
        if kind == rules.ACT:
            pending = self.pending.pop(src)  # type: ignore[arg-type]
            pending.act = rules.act_name(self.gm, node)
            self.pending[node] = pending
        elif kind == rules.FLATTEN:
            self.tensor_of[node] = self.tensor_of[src]  # type: ignore[index]
        elif kind == rules.MAXPOOL:
            self.maxpool(node)
        elif kind == rules.AVGPOOL:
            mod = self.gm.get_submodule(str(node.target))
            self.pending[node] = _Pending(node, mod, self.tensor_of[src])  # type: ignore[index]
        elif kind != rules.SHAPE:
            raise ConfigError(f"export: node {rules.node_fqn(node)!r} ({kind}) is not expected")

    def maxpool(self, node: fx.Node) -> None:
        mod = self.gm.get_submodule(str(node.target))
        src = self.tensors[self.tensor_of[node.args[0]]]  # type: ignore[index]
        k, s, p = (_pair(v) for v in (mod.kernel_size, mod.stride, mod.padding))
        name = rules.node_fqn(node)
        spec = TensorSpec(
            name=name,
            shape=self.shape(node),
            bits=src.bits,
            scale=src.scale,
            zero_point=src.zero_point,
        )
        self.tensors[name] = spec
        self.tensor_of[node] = name
        self.ops.append(
            Op(
                name=name,
                kind="maxpool",
                inputs=(src.name,),
                output=name,
                kernel=k,
                stride=s,
                padding=(p[0], p[1], p[0], p[1]),
            )
        )

    def finish(self, pending: _Pending, qnode: fx.Node, quant: ActQuant) -> None:
        """Emit the op of `pending` with the output tensor described by `quant`."""
        name = rules.node_fqn(pending.node)
        out = self.tensors[self.add_tensor(name, qnode, quant)]
        src = self.tensors[pending.source]
        step = quant.step_for(out.bits).detach()
        lo, hi = activation_clamp(pending.act, out.zero_point, out.bits, step)
        mod = pending.module
        if isinstance(mod, (QConv2d, QLinear)):
            self.ops.append(self.weighted(name, mod, src, out, (lo, hi)))
            return
        self.ops.append(self.avgpool(name, pending, src, out, (lo, hi)))

    def avgpool(
        self, name: str, pending: _Pending, src: TensorSpec, out: TensorSpec, clamp: tuple[int, int]
    ) -> Op:
        """Sum over the window, then requantize by s_in / (window size * s_out)."""
        mod = pending.module
        if isinstance(mod, nn.AdaptiveAvgPool2d):  # output 1x1 (rules.py): the whole map
            kernel = stride = self.shape(pending.node.args[0])[:2]  # type: ignore[arg-type]
        else:
            kernel = _pair(mod.kernel_size)
            stride = _pair(mod.stride or mod.kernel_size)
        m, s = quantize_multipliers(np.array([src.scale / (kernel[0] * kernel[1] * out.scale)]))
        return Op(
            name=name,
            kind="avgpool",
            inputs=(src.name,),
            output=name,
            kernel=(int(kernel[0]), int(kernel[1])),
            stride=(int(stride[0]), int(stride[1])),
            requant=Requant(multiplier=m, shift=s, act_min=clamp[0], act_max=clamp[1]),
        )

    def weighted(
        self,
        name: str,
        mod: QConv2d | QLinear,
        src: TensorSpec,
        out: TensorSpec,
        clamp: tuple[int, int],
    ) -> Op:
        w = mod.weight_int().numpy()
        b = mod.bias_int().numpy()
        bound = accumulator_bound(w.reshape(w.shape[0], -1), b, src.bits, src.zero_point)
        if not fits_int32(bound):  # checked here too so the first bad layer is the one named
            raise ConfigError(
                f"op {name!r}: worst-case accumulator {bound} exceeds int32 "
                f"(K={w[0].size}, w{mod.w_bits}, a{src.bits}); lower the bits or split the layer"
            )
        if b.size and (b.min() < INT32_MIN or b.max() > INT32_MAX):
            raise ConfigError(
                f"op {name!r}: quantized bias reaches {int(np.abs(b).max())}, beyond int32; "
                "the input or weight step is too small (retrain or raise the bits)"
            )
        s_w = mod.weight_quant.step_for().detach().double().numpy()
        s_in = float(mod.input_quant.step_for().detach())
        m, s = quantize_multipliers(s_in * s_w / out.scale)
        rq = Requant(multiplier=m, shift=s, act_min=clamp[0], act_max=clamp[1])
        common = {
            "name": name,
            "inputs": (src.name,),
            "output": name,
            "requant": rq,
            "bias": b.astype(np.int32),
            "w_bits": mod.w_bits,
        }
        if isinstance(mod, QConv2d):
            t, left, bottom, r = mod.padding
            return Op(
                kind="conv2d",
                weight=w.transpose(0, 2, 3, 1).astype(np.int8),
                kernel=mod.kernel_size,
                stride=mod.stride,
                padding=(t, left, bottom, r),
                groups=mod.groups,
                **common,
            )
        if len(src.shape) == 3:  # torch flattened CHW; the graph indexes HWC
            h, wd, c = src.shape
            w = w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)
        return Op(kind="linear", weight=w.astype(np.int8), **common)

    def add_op(self, node: fx.Node, mod: QAdd) -> None:
        name = mod.fqn
        out = self.tensors[self.add_tensor(name, node, mod.out_quant)]
        srcs = [self.tensors[self.tensor_of[a]] for a in node.args]  # type: ignore[index]
        m, s = quantize_multipliers(np.array([x.scale / out.scale for x in srcs]))
        lo, hi = mod.clamp_range(out.bits)
        self.ops.append(
            Op(
                name=name,
                kind="add",
                inputs=tuple(x.name for x in srcs),
                output=name,
                requant=Requant(multiplier=m, shift=s, act_min=lo, act_max=hi),
            )
        )


def _bits_meta(gm: fx.GraphModule) -> dict[str, str]:
    return {
        str(mod.fqn): f"w{mod.w_bits}a{mod.a_bits}"
        for mod in gm.modules()
        if isinstance(mod, (QConv2d, QLinear))
    }


@torch.no_grad()
def export_graph(
    qat_model: nn.Module,
    example_input: Tensor,
    *,
    name: str,
    meta: dict[str, object] | None = None,
) -> Graph:
    """Return the integer graph of a prepared QAT model; prove its accumulators fit int32.

    `example_input` (float NCHW, any batch) only fixes tensor shapes. Raises ConfigError when
    the model was not made by `prepare_qat` or a layer's int32 accumulator could overflow.
    """
    gm = getattr(qat_model, "module", qat_model)  # unwrap DistributedDataParallel
    if not isinstance(gm, fx.GraphModule) or not hasattr(gm, "mq_quant"):
        raise ConfigError(
            f"export needs a model made by prepare_qat, got {type(gm).__name__}; "
            "call mcumixq.quant.prepare_qat(model, config, example_input) first"
        )
    was_training = gm.training
    gm.eval()
    try:
        ShapeProp(gm).propagate(example_input[:1])
        ex = _Exporter(gm)
        for node in gm.graph.nodes:
            ex.visit(node)
    finally:
        gm.train(was_training)
    info = {"source": "mcumixq.ir.export", "bits": _bits_meta(gm), "input_rule": INPUT_RULE}
    graph = Graph(
        name=name,
        input=INPUT_NAME,
        output=ex.output,
        tensors=ex.tensors,
        ops=tuple(ex.ops),
        meta={**info, **(meta or {})},
    )
    validate_graph(graph)
    check_accumulators(graph)
    return graph
