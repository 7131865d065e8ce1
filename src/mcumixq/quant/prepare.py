"""Turn a float model into a fake-quant QAT model by rewriting its torch.fx graph (by FQN).

Steps: trace, classify every node (`rules.py`; anything else is an UnsupportedModelError naming
the FQN), drop Dropout/Identity, fold each BatchNorm into its conv (float pre-training first,
then fold once: exact at export), swap Conv2d/Linear for QConv2d/QLinear, and put one
activation quantizer on every integer tensor: the network input (fixed pixel rule), each
conv/linear output after its ReLU, each avgpool output; a residual add becomes a QAdd that
quantizes its own output. Max pooling and flatten pass quantization through (exact).

A tensor's quantizer is the `input_quant` of the first layer reading it (graph order); other
readers share that object, so one tensor has one (scale, zero point) as the integer graph needs
it. A tensor read by no conv/linear (logits, add inputs, avgpool inputs) gets an 8-bit
quantizer under `mq_quant`. Quantizers are calibrated (MSE-optimal steps) on `example_input`.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, fx, nn

from mcumixq.errors import ConfigError, UnsupportedModelError
from mcumixq.quant import rules
from mcumixq.quant.config import QuantConfig
from mcumixq.quant.fold_bn import fold_bn
from mcumixq.quant.modules import QAdd, QConv2d, QLinear
from mcumixq.quant.quantizers import ActQuant, InputQuant
from mcumixq.quant.rules import (
    ACT,
    ADD,
    AVGPOOL,
    BN,
    IDENTITY,
    INPUT,
    PASS_THROUGH,
    SHAPE,
    WEIGHTED,
)

OUTPUT_BITS = 8
# What symbolic tracing raises on data-dependent Python in forward().
_TRACE_ERRORS = (
    fx.proxy.TraceError, TypeError, RuntimeError, AttributeError, NotImplementedError, ValueError,
)  # fmt: skip


def _trace(model: nn.Module) -> fx.GraphModule:
    try:
        return fx.symbolic_trace(model)
    except _TRACE_ERRORS as err:
        raise UnsupportedModelError(
            f"{type(model).__name__} cannot be traced by torch.fx ({type(err).__name__}: {err}); "
            "remove data-dependent control flow from forward()"
        ) from err


def _install(gm: fx.GraphModule, target: str, module: nn.Module) -> None:
    parent, _, attr = target.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, attr, module)


def _drop_identities(gm: fx.GraphModule, kinds: dict[fx.Node, str]) -> None:
    for node in list(gm.graph.nodes):
        if kinds[node] == IDENTITY:
            node.replace_all_uses_with(node.args[0])
            gm.graph.erase_node(node)
            del kinds[node]


def _fold_bns(gm: fx.GraphModule, kinds: dict[fx.Node, str]) -> dict[str, tuple[Tensor, Tensor]]:
    """Fold every BN into its producer; return the folded (weight, bias) by layer FQN."""
    params = {}
    for node in gm.graph.nodes:
        if kinds[node] == WEIGHTED:
            mod = gm.get_submodule(str(node.target))
            params[str(node.target)] = (mod.weight.detach(), mod.bias)
    for node in list(gm.graph.nodes):
        if kinds[node] != BN:
            continue
        src = node.args[0]
        if not isinstance(src, fx.Node) or kinds.get(src) != WEIGHTED or len(src.users) != 1:
            raise UnsupportedModelError(
                f"BatchNorm {rules.node_fqn(node)!r} does not directly follow a conv/linear it "
                "alone reads; only conv -> BN -> ReLU patterns can be folded"
            )
        w, b = params[str(src.target)]
        params[str(src.target)] = fold_bn(w, b, gm.get_submodule(str(node.target)))
        node.replace_all_uses_with(src)
        gm.graph.erase_node(node)
        del kinds[node]
    return {
        k: (w, torch.zeros(w.shape[0]) if b is None else b.detach()) for k, (w, b) in params.items()
    }


def _tensor_point(node: fx.Node, kinds: dict[fx.Node, str]) -> fx.Node | None:
    """The node whose output is the integer tensor `node` produces (its fused ReLU if any)."""
    kind = kinds[node]
    if kind in (WEIGHTED, ADD):
        users = list(node.users)
        return users[0] if len(users) == 1 and kinds[users[0]] == ACT else node
    return node if kind in (INPUT, AVGPOOL) else None


def _readers(point: fx.Node, kinds: dict[fx.Node, str]) -> list[fx.Node]:
    """Nodes consuming `point`'s tensor, looking through max pooling and flatten."""
    out, todo = [], list(point.users)
    while todo:
        user = todo.pop(0)
        if kinds[user] in PASS_THROUGH:
            todo.extend(user.users)
        elif kinds[user] != SHAPE and user not in out:
            out.append(user)
    return out


def _source(node: fx.Node, kinds: dict[fx.Node, str], points: dict[fx.Node, fx.Node]) -> fx.Node:
    """Walk back through pass-through nodes to the tensor point feeding `node`."""
    while node not in points.values():
        node = node.args[0]  # type: ignore[assignment]
    return node


def _plan(
    gm: fx.GraphModule, kinds: dict[fx.Node, str], config: QuantConfig
) -> tuple[dict[fx.Node, fx.Node], dict[fx.Node, nn.Module], dict[fx.Node, nn.Module]]:
    """Map producer -> tensor point, point -> quantizer, weighted node -> its input quantizer."""
    order = {n: i for i, n in enumerate(gm.graph.nodes)}
    points: dict[fx.Node, fx.Node] = {}
    for node in gm.graph.nodes:
        p = _tensor_point(node, kinds)
        if p is not None:
            points[node] = p
    fused = set(points.values())
    for node in gm.graph.nodes:
        if kinds[node] == ACT and node not in fused:
            raise UnsupportedModelError(
                f"activation {rules.node_fqn(node)!r} does not directly follow a conv, linear or "
                "add that only it reads; put the ReLU right after the layer"
            )
    nonneg: dict[fx.Node, bool] = {}
    quants: dict[fx.Node, nn.Module] = {}
    input_quant: dict[fx.Node, nn.Module] = {}
    for producer, point in sorted(points.items(), key=lambda kv: order[kv[0]]):
        if kinds[producer] == AVGPOOL:
            nonneg[point] = nonneg[_source(producer.args[0], kinds, points)]  # type: ignore[arg-type]
        else:
            nonneg[point] = kinds[point] in (ACT, INPUT)
        readers = sorted(_readers(point, kinds), key=order.__getitem__)
        weighted = [r for r in readers if kinds[r] == WEIGHTED]
        bits = config.pair_for(str(weighted[0].target)).a if weighted else OUTPUT_BITS
        q = InputQuant(bits) if kinds[point] == INPUT else ActQuant(bits, signed=not nonneg[point])
        quants[point] = q
        for w in weighted:
            input_quant[w] = q
    return points, quants, input_quant


def _swap_weighted(
    gm: fx.GraphModule,
    kinds: dict[fx.Node, str],
    config: QuantConfig,
    params: dict[str, tuple[Tensor, Tensor]],
    input_quant: dict[fx.Node, nn.Module],
) -> None:
    for node in gm.graph.nodes:
        if kinds[node] != WEIGHTED:
            continue
        fqn = str(node.target)
        old = gm.get_submodule(fqn)
        w, b = params[fqn]
        common = {"w_bits": config.pair_for(fqn).w, "input_quant": input_quant[node], "fqn": fqn}
        new: nn.Module = (
            QConv2d(old, w, b, **common) if isinstance(old, nn.Conv2d) else QLinear(w, b, **common)
        )
        _install(gm, fqn, new)


def _insert_quantizers(
    gm: fx.GraphModule,
    kinds: dict[fx.Node, str],
    points: dict[fx.Node, fx.Node],
    quants: dict[fx.Node, nn.Module],
    input_quant: dict[fx.Node, nn.Module],
) -> None:
    gm.mq_quant = nn.ModuleDict()
    gm.mq_add = nn.ModuleDict()
    owner = {id(q): str(n.target) for n, q in reversed(list(input_quant.items()))}
    for producer, point in list(points.items()):
        q = quants[point]
        if kinds[producer] == ADD:
            _replace_add(gm, kinds, producer, point, q)
            continue
        if id(q) in owner:
            target = f"{owner[id(q)]}.input_quant"
        else:
            key = "input" if kinds[point] == INPUT else rules.node_fqn(point).replace(".", "_")
            gm.mq_quant[key] = q
            target = f"mq_quant.{key}"
        with gm.graph.inserting_after(point):
            qnode = gm.graph.call_module(target, (point,))
        point.replace_all_uses_with(qnode, delete_user_cb=lambda u, qn=qnode: u is not qn)


def _replace_add(
    gm: fx.GraphModule, kinds: dict[fx.Node, str], add: fx.Node, point: fx.Node, q: nn.Module
) -> None:
    args = add.args
    if len(args) != 2 or add.kwargs or not all(isinstance(a, fx.Node) for a in args):
        raise UnsupportedModelError(
            f"add {rules.node_fqn(add)!r} must add exactly two tensors (no scalars, no alpha)"
        )
    act = rules.act_name(gm, point) if point is not add else "none"
    fqn = rules.node_fqn(add)
    key = fqn.replace(".", "_")
    gm.mq_add[key] = QAdd(q, act=act, fqn=fqn)  # type: ignore[arg-type]
    with gm.graph.inserting_after(point):
        new = gm.graph.call_module(f"mq_add.{key}", args)
    point.replace_all_uses_with(new)
    if point is not add:
        gm.graph.erase_node(point)
    gm.graph.erase_node(add)


def prepare_qat(model: nn.Module, config: QuantConfig, example_input: Tensor) -> fx.GraphModule:
    """Return a fake-quant copy of `model` (the float model is left untouched).

    `example_input` (float NCHW in [0, 1], ideally a few hundred real images) calibrates every
    activation step. Bit-widths follow `config` by FQN; see module docstring for sharing.
    """
    if not isinstance(config, QuantConfig):
        raise ConfigError(f"config must be a QuantConfig, got {type(config).__name__}")
    was_training = model.training
    gm = _trace(copy.deepcopy(model).eval())
    kinds = {n: rules.node_kind(gm, n) for n in gm.graph.nodes}
    _drop_identities(gm, kinds)
    params = _fold_bns(gm, kinds)
    config.check_layers(list(params))
    points, quants, input_quant = _plan(gm, kinds, config)
    _swap_weighted(gm, kinds, config, params, input_quant)
    _insert_quantizers(gm, kinds, points, quants, input_quant)
    gm.graph.eliminate_dead_code()
    gm.graph.lint()
    gm.recompile()
    gm.delete_all_unused_submodules()
    with torch.no_grad():
        gm(example_input)
    return gm.train(was_training)


def quant_layers(model: nn.Module) -> dict[str, QConv2d | QLinear]:
    """The quantized conv/linear layers of a prepared model, by FQN in execution order."""
    gm = getattr(model, "module", model)  # unwrap DistributedDataParallel
    if isinstance(gm, fx.GraphModule):
        mods = [gm.get_submodule(str(n.target)) for n in gm.graph.nodes if n.op == "call_module"]
        return {m.fqn: m for m in mods if isinstance(m, (QConv2d, QLinear))}
    return {name: m for name, m in gm.named_modules() if isinstance(m, (QConv2d, QLinear))}
