"""Build a zoo model by name; the names are the `--model` values and appear in reports.

`MODELS` is read-only (a mapping proxy): no code can register into shared state at run time.
Every builder takes the same keywords, so the CLI passes dataset geometry straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from torch import nn

from mcumixq.errors import ConfigError
from mcumixq.models.dscnn import DSCNN
from mcumixq.models.mlp import MLP
from mcumixq.models.mobilenet import MobileNetV1
from mcumixq.models.resnet8 import ResNet8
from mcumixq.models.tinyvgg import TinyVGG

Builder = Callable[..., nn.Module]

MODELS: MappingProxyType[str, Builder] = MappingProxyType(
    {
        "tinyvgg": TinyVGG,
        "resnet8": ResNet8,
        "dscnn": DSCNN,
        "mobilenetv1": MobileNetV1,
        "mlp": MLP,
    }
)


def build_model(
    name: str,
    *,
    in_channels: int,
    in_size: int | tuple[int, int],
    num_classes: int,
    width: float = 1.0,
) -> nn.Module:
    """Return a freshly initialised float model (seed with torch.manual_seed for determinism).

    `in_size` is the square side (or (H, W)) of the input; flatten and pooling sizes adapt to it.
    """
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name](
        in_channels=in_channels, in_size=in_size, num_classes=num_classes, width=width
    )
