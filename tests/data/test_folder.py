"""Image folders: classes from sub-directories, grey vs RGB, resize, split, bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mcumixq.data import load_dataset
from mcumixq.errors import InputError


def _tree(root: Path, mode: str, sizes: dict[str, tuple[int, int]], n: int = 5) -> None:
    for k, (cls, size) in enumerate(sizes.items()):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            colour = (k * 100 + i) if mode == "L" else (k * 100 + i, 7, 200)
            Image.new(mode, size, colour).save(root / cls / f"{i:02d}.png")


def test_grey_tree_split_and_values(tmp_path: Path) -> None:
    _tree(tmp_path, "L", {"cat": (6, 6), "dog": (6, 6)})
    train = load_dataset("folder", data_dir=tmp_path, seed=1)
    test = load_dataset("folder", "test", data_dir=tmp_path, seed=1)
    assert train.classes == ("cat", "dog")
    assert train.images.shape == (8, 6, 6, 1) and len(test) == 2
    assert sorted(test.labels.tolist()) == [0, 1]
    # Every pixel of a file has its colour; label k images are k*100 + i.
    for img, label in zip(train.images, train.labels, strict=True):
        assert img.min() == img.max() and img.max() // 100 == label
    # Train and test are disjoint and cover the tree.
    values = sorted(int(v) for v in np.concatenate([train.images, test.images])[:, 0, 0, 0])
    assert values == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104]


def test_rgb_and_resize(tmp_path: Path) -> None:
    _tree(tmp_path, "RGB", {"a": (10, 8), "b": (5, 5)})
    with pytest.raises(InputError, match="--size"):
        load_dataset("folder", data_dir=tmp_path)
    ds = load_dataset("folder", data_dir=tmp_path, size=4)
    assert ds.images.shape == (8, 4, 4, 3)
    assert (ds.images[..., 1] == 7).all()


def test_unreadable_image(tmp_path: Path) -> None:
    _tree(tmp_path, "L", {"a": (4, 4), "b": (4, 4)})
    (tmp_path / "a" / "zz.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"zz\.png"):
        load_dataset("folder", data_dir=tmp_path)


def test_empty_or_missing_root(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no class sub-directories"):
        load_dataset("folder", data_dir=tmp_path)
    with pytest.raises(InputError, match="not found"):
        load_dataset("folder", data_dir=tmp_path / "nope")
    with pytest.raises(InputError, match="--data-dir"):
        load_dataset("folder")
