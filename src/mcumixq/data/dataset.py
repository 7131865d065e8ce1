"""The in-memory dataset every loader returns: uint8 NHWC images, int64 labels, class names.

Loaders return NumPy, not torch, so the integer reference, the firmware self-test inputs and the
report can use a dataset without importing torch; `torch_loader.py` adapts it for training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcumixq.errors import InputError


@dataclass(frozen=True, slots=True, eq=False)
class ArrayDataset:
    """A labelled image set: images uint8 (N, H, W, C), labels int64 (N,) in [0, len(classes)).

    NHWC is the integer graph's layout (DESIGN §3), so device inputs need no transpose.
    Equality is identity (eq=False): element-wise array comparison has no single truth value.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        imgs, labels = self.images, self.labels
        if imgs.dtype != np.uint8 or imgs.ndim != 4:
            raise InputError(
                f"dataset {self.name!r}: images must be uint8 (N, H, W, C), got "
                f"{imgs.dtype} {imgs.shape}; convert with np.asarray(x, np.uint8)"
            )
        if labels.dtype != np.int64 or labels.shape != (imgs.shape[0],):
            raise InputError(
                f"dataset {self.name!r}: labels must be int64 ({imgs.shape[0]},), got "
                f"{labels.dtype} {labels.shape}; one label per image"
            )
        if not self.classes:
            raise InputError(f"dataset {self.name!r}: no class names; give one per label value")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise InputError(
                f"dataset {self.name!r}: labels span [{labels.min()}, {labels.max()}] but there "
                f"are {len(self.classes)} classes; labels must be in [0, {len(self.classes)})"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of one image."""
        _, h, w, c = self.images.shape
        return (int(h), int(w), int(c))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, indices: np.ndarray) -> ArrayDataset:
        """Return the images at `indices` (in that order) as a new dataset of the same name."""
        idx = np.asarray(indices, dtype=np.int64)
        return ArrayDataset(self.name, self.images[idx], self.labels[idx], self.classes)
