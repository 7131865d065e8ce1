"""Load CIFAR-10 from a local copy of the official *binary* version (never unpickles).

Each record of data_batch_1..5.bin / test_batch.bin is 3,073 bytes: one label byte, then the
32x32 red, green and blue planes, each row-major (Krizhevsky's CIFAR page). Parsing bytes, not
the Python-pickle version, means a foreign file cannot execute code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcumixq.data.dataset import ArrayDataset
from mcumixq.errors import InputError

RECORD_BYTES = 1 + 3 * 32 * 32
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}


def parse_cifar_records(data: bytes, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Decode records into images (N, 32, 32, 3) uint8 and labels (N,) int64."""
    if len(data) == 0 or len(data) % RECORD_BYTES:
        raise InputError(
            f"{source}: {len(data)} bytes is not a whole number of {RECORD_BYTES}-byte CIFAR-10 "
            "records; use the binary version (cifar-10-binary.tar.gz), not the python one"
        )
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD_BYTES)
    labels = rec[:, 0].astype(np.int64)
    if labels.max() >= len(CLASSES):
        raise InputError(f"{source}: label byte {labels.max()} out of range 0..9; corrupt file")
    images = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _root(data_dir: Path | None) -> Path:
    hint = "pass --data-dir DIR holding data_batch_1..5.bin and test_batch.bin (binary version)"
    if data_dir is None:
        raise InputError(f"CIFAR-10 has no default location; {hint}")
    for cand in (Path(data_dir), Path(data_dir) / "cifar-10-batches-bin"):
        if (cand / "test_batch.bin").is_file():
            return cand
    raise InputError(f"CIFAR-10 not found in {data_dir} (no test_batch.bin); {hint}")


def load_cifar10(split: str, data_dir: Path | None) -> ArrayDataset:
    """Return the 50,000-image train or 10,000-image test split as (N, 32, 32, 3) uint8."""
    root = _root(data_dir)
    images, labels = [], []
    for name in FILES[split]:
        path = root / name
        try:
            data = path.read_bytes()
        except OSError as err:
            raise InputError(
                f"{path}: unreadable ({err}); re-extract the CIFAR-10 archive"
            ) from err
        x, y = parse_cifar_records(data, str(path))
        images.append(x)
        labels.append(y)
    return ArrayDataset("cifar10", np.concatenate(images), np.concatenate(labels), CLASSES)
