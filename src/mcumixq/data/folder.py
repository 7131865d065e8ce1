"""Load an image-folder tree root/<class>/*.png|jpg with Pillow (the torchvision ImageFolder shape).

Classes are the sorted sub-directory names; images are sorted by file name, so the dataset is the
same on every machine. Grey if every image is single-channel, RGB otherwise. Without `size` all
images must share one size; with it each is resized (bilinear) to size x size. There is no
official split: train/test is a seeded, stratified 80/20 split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcumixq.data.dataset import ArrayDataset
from mcumixq.data.splits import train_test_split
from mcumixq.errors import InputError

SUFFIXES = (".png", ".jpg", ".jpeg")
_GREY_MODES = ("1", "L", "I", "I;16", "F")


def _scan(root: Path) -> tuple[tuple[str, ...], list[tuple[Path, int]]]:
    """List (class names, [(image path, label)]) or fail naming what is missing."""
    if not root.is_dir():
        raise InputError(
            f"image folder {root} not found; pass --data-dir ROOT with ROOT/<class>/*.png"
        )
    classes = tuple(sorted(p.name for p in root.iterdir() if p.is_dir()))
    files = [
        (path, label)
        for label, cls in enumerate(classes)
        for path in sorted((root / cls).iterdir())
        if path.suffix.lower() in SUFFIXES and path.is_file()
    ]
    if not files:
        raise InputError(
            f"image folder {root}: no class sub-directories with .png/.jpg images; "
            "lay it out as ROOT/<class>/<image>.png"
        )
    return classes, files


def _read(path: Path, mode: str, size: int | None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError  # Pillow comes with matplotlib

    try:
        with Image.open(path) as img:
            img = img.convert(mode)
            if size is not None and img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as err:
        raise InputError(f"{path}: not a readable image ({err}); remove or replace it") from err
    return arr[..., None] if arr.ndim == 2 else arr


def _mode(files: list[tuple[Path, int]]) -> str:
    from PIL import Image, UnidentifiedImageError

    for path, _ in files:
        try:
            with Image.open(path) as img:
                if img.mode not in _GREY_MODES:
                    return "RGB"
        except (OSError, UnidentifiedImageError) as err:
            raise InputError(f"{path}: not a readable image ({err}); remove or replace it") from err
    return "L"


def load_folder(
    split: str, data_dir: Path | None, *, size: int | None = None, seed: int = 0
) -> ArrayDataset:
    """Return the train (80%) or test (20%) part of ROOT as (N, H, W, 1 or 3) uint8."""
    if data_dir is None:
        raise InputError(
            "the folder dataset needs its root; pass --data-dir ROOT (ROOT/<class>/*.png)"
        )
    root = Path(data_dir)
    classes, files = _scan(root)
    mode = _mode(files)
    arrays = [_read(path, mode, size) for path, _ in files]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise InputError(
            f"image folder {root}: images have different sizes {sorted(shapes)[:3]}; "
            "pass --size N to resize them all to N x N"
        )
    images = np.stack(arrays)
    labels = np.array([label for _, label in files], dtype=np.int64)
    train, test = train_test_split(labels, seed)
    idx = train if split == "train" else test
    return ArrayDataset(f"folder:{root.name}", images[idx], labels[idx], classes)
