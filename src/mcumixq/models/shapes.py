"""Shape arithmetic and argument checks shared by the model builders.

Builders compute flatten and pooling sizes up front (so every model is a fixed graph that
torch.fx traces without shape-dependent Python) and reject sizes that would shrink to nothing.
"""

from __future__ import annotations

from mcumixq.errors import ConfigError


def hw(in_size: int | tuple[int, int]) -> tuple[int, int]:
    """Normalise `in_size` (square side or (H, W)) to (H, W), each >= 1."""
    h, w = (in_size, in_size) if isinstance(in_size, int) else tuple(in_size)
    if h < 1 or w < 1:
        raise ConfigError(f"in_size must be positive, got {in_size}")
    return int(h), int(w)


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length of a convolution or pooling window along one axis (floor mode)."""
    return (size + 2 * padding - kernel) // stride + 1


def scaled(channels: int, width: float) -> int:
    """Scale a channel count by the width multiplier, rounding to nearest, at least 1."""
    return max(1, round(channels * width))


def check_args(name: str, in_channels: int, num_classes: int, width: float) -> None:
    """Reject non-positive channel, class or width arguments with the field and value."""
    if in_channels < 1:
        raise ConfigError(f"{name}: in_channels must be >= 1, got {in_channels}")
    if num_classes < 1:
        raise ConfigError(f"{name}: num_classes must be >= 1, got {num_classes}")
    if not width > 0:
        raise ConfigError(f"{name}: width must be > 0, got {width}; e.g. 0.25 or 1.0")


def check_map(name: str, h: int, w: int, in_size: int | tuple[int, int]) -> None:
    """Fail when the feature map has shrunk to nothing for this input size."""
    if h < 1 or w < 1:
        raise ConfigError(
            f"{name}: input size {in_size} is too small (feature map shrinks to {h}x{w}); "
            "use a larger input"
        )
