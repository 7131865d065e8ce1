"""Classify the nodes of a torch.fx graph into the handful of kinds mcumixq can quantize.

One table decides what is supported, so `prepare_qat` and the exporter agree on it and an
unsupported layer fails early with its FQN, its type and the list of what would work.
"""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from mcumixq.errors import UnsupportedModelError

SUPPORTED = (
    "Conv2d (dense or depthwise, dilation 1), Linear, BatchNorm after a conv/linear, ReLU, "
    "ReLU6, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d(1), Flatten/flatten/view, Dropout, "
    "Identity, residual add (+)"
)

# Node kinds. Pass-through kinds keep the quantization of their input.
INPUT, OUTPUT, WEIGHTED, BN, ACT, MAXPOOL, AVGPOOL, FLATTEN, IDENTITY, ADD, SHAPE = (
    "input", "output", "weighted", "bn", "act", "maxpool", "avgpool", "flatten", "identity",
    "add", "shape",
)  # fmt: skip
PASS_THROUGH = (MAXPOOL, FLATTEN)

_MODULE_KINDS: tuple[tuple[type[nn.Module], str], ...] = (
    (nn.Conv2d, WEIGHTED),
    (nn.Linear, WEIGHTED),
    (nn.BatchNorm2d, BN),
    (nn.BatchNorm1d, BN),
    (nn.ReLU, ACT),
    (nn.ReLU6, ACT),
    (nn.MaxPool2d, MAXPOOL),
    (nn.AvgPool2d, AVGPOOL),
    (nn.AdaptiveAvgPool2d, AVGPOOL),
    (nn.Flatten, FLATTEN),
    (nn.Dropout, IDENTITY),
    (nn.Identity, IDENTITY),
)
_FUNCTION_KINDS = {
    operator.add: ADD,
    torch.add: ADD,
    F.relu: ACT,
    torch.relu: ACT,
    F.relu6: ACT,
    torch.flatten: FLATTEN,
    F.dropout: IDENTITY,
}
_METHOD_KINDS = {
    "add": ADD,
    "relu": ACT,
    "flatten": FLATTEN,
    "view": FLATTEN,
    "reshape": FLATTEN,
    "size": SHAPE,
}


def node_fqn(node: fx.Node) -> str:
    """The node's PyTorch FQN (module path), or `owner.name` for a function call."""
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    owner = list(stack.values())[-1][0] if stack else ""
    return f"{owner}.{node.name}" if owner else node.name


def _unsupported(node: fx.Node, what: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"layer {node_fqn(node)!r} ({what}) is not supported; mcumixq quantizes: {SUPPORTED}"
    )


def _check_module(node: fx.Node, mod: nn.Module) -> None:
    """Reject configurations of supported module types that have no integer op."""
    name = type(mod).__name__
    if isinstance(mod, nn.Conv2d):
        if tuple(mod.dilation) != (1, 1) or mod.padding_mode != "zeros":
            raise _unsupported(node, f"{name} with dilation/padding_mode")
        if mod.groups not in (1, mod.in_channels) or (
            mod.groups > 1 and mod.out_channels != mod.in_channels
        ):
            raise _unsupported(node, f"{name} with groups={mod.groups}")
    elif isinstance(mod, nn.MaxPool2d) and (mod.ceil_mode or mod.dilation not in (1, (1, 1))):
        raise _unsupported(node, f"{name} with ceil_mode/dilation")
    elif isinstance(mod, nn.AvgPool2d) and (mod.ceil_mode or mod.padding not in (0, (0, 0))):
        raise _unsupported(node, f"{name} with padding/ceil_mode")
    elif isinstance(mod, nn.AdaptiveAvgPool2d) and mod.output_size not in (1, (1, 1)):
        raise _unsupported(node, f"{name} with output_size={mod.output_size}")


def node_kind(gm: fx.GraphModule, node: fx.Node) -> str:
    """Classify `node`; raise UnsupportedModelError naming its FQN and type otherwise."""
    if node.op == "placeholder":
        return INPUT
    if node.op == "output":
        return OUTPUT
    if node.op == "call_module":
        mod = gm.get_submodule(str(node.target))
        for cls, kind in _MODULE_KINDS:
            if type(mod) is cls:
                _check_module(node, mod)
                return kind
        raise _unsupported(node, type(mod).__name__)
    if node.op == "call_function" and node.target in _FUNCTION_KINDS:
        return _FUNCTION_KINDS[node.target]
    if node.op == "call_method" and node.target in _METHOD_KINDS:
        return _METHOD_KINDS[str(node.target)]
    what = getattr(node.target, "__name__", str(node.target))
    raise _unsupported(node, f"{node.op} {what}")


def act_name(gm: fx.GraphModule, node: fx.Node) -> str:
    """'relu' or 'relu6' for an ACT node."""
    if node.op == "call_module":
        return "relu6" if isinstance(gm.get_submodule(str(node.target)), nn.ReLU6) else "relu"
    return "relu6" if node.target is F.relu6 else "relu"
