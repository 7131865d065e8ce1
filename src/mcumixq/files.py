"""Atomic file and directory writes and stable JSON, so no command leaves half-written output.

Every output goes to a sibling temporary path first and is moved into place with `os.replace`
only when complete; on any error (including Ctrl-C) the temporary is removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mcumixq.errors import InputError


def _unwritable(target: Path, err: OSError) -> InputError:
    """An output location that cannot be created is bad input: say where and why."""
    reason = err.strerror or type(err).__name__
    return InputError(f"{target}: cannot write here ({reason}); choose a writable output path")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[Any]:
    """Open a sibling temp file for writing; rename it onto `path` only if the block succeeds."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise _unwritable(target, err) from err
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
        Path(tmp).chmod(0o644)  # mkstemp creates 0600; outputs are ordinary files
        Path(tmp).replace(target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a sibling temp directory; it replaces `path` (whole) only if the block succeeds."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as err:
        raise _unwritable(target, err) from err
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp creates 0700; outputs are ordinary directories
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.replace(old)
            Path(tmp).replace(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            Path(tmp).replace(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def dumps_json(obj: Any) -> str:
    """Serialize with sorted keys and 2-space indent so equal data gives byte-identical files."""
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write `obj` as stable JSON atomically."""
    with atomic_write(path, "w") as fh:
        fh.write(dumps_json(obj))
