"""Rich progress on stderr, disabled when stderr is not a TTY or output is JSON/quiet.

`track` draws a bar over an iterable of known length (epochs, batches, calibration cases);
`status` a spinner over one long call whose progress cannot be counted (generate + build +
emulate a model, one emulator run). Both write to stderr only, so stdout stays clean for
`--json` and pipes.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def track(
    items: Iterable[T], description: str, total: int | None = None, enabled: bool = True
) -> Iterator[T]:
    """Iterate with a rich progress bar when enabled and stderr is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield from items
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(items, description=description, total=total, console=Console(stderr=True))


@contextlib.contextmanager
def status(message: str, enabled: bool = True) -> Iterator[None]:
    """Show a spinner with `message` on stderr while the block runs (terminal only)."""
    if not enabled or not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield


class TrackedLoader:
    """A loader whose every pass shows a progress bar: for library loops (the bit-width search)
    that iterate a loader once per epoch and take no progress callback. `sampler` stays
    visible so DDP's `set_epoch` still reaches a DistributedSampler."""

    def __init__(self, loader: Any, description: str, enabled: bool = True) -> None:
        self.loader = loader
        self.description = description
        self.enabled = enabled

    def __iter__(self) -> Iterator[Any]:
        total = len(self.loader) if hasattr(self.loader, "__len__") else None
        return iter(track(self.loader, self.description, total=total, enabled=self.enabled))

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def sampler(self) -> Any:
        """The wrapped loader's sampler (None if it has none)."""
        return getattr(self.loader, "sampler", None)
