"""Generate a small learnable image set (class-dependent blobs) so tests never need real data.

Each class has a fixed bright Gaussian blob (position and per-channel intensity drawn from the
seed) on a dark background, plus pixel noise: a small CNN or MLP separates the classes within a
few epochs, yet the images are not trivially identical.
"""

from __future__ import annotations

import numpy as np

from mcumixq.data.dataset import ArrayDataset
from mcumixq.errors import ConfigError


def _prototypes(shape: tuple[int, int, int], classes: int, rng: np.random.Generator) -> np.ndarray:
    h, w, c = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    sigma = max(1.0, min(h, w) / 5.0)
    protos = np.empty((classes, h, w, c))
    for k in range(classes):
        cy, cx = rng.uniform(0, h - 1), rng.uniform(0, w - 1)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
        protos[k] = 40.0 + 200.0 * blob[..., None] * rng.uniform(0.5, 1.0, size=c)
    return protos


def synthetic_dataset(
    n: int, shape: tuple[int, int, int], classes: int, seed: int, *, noise: float = 20.0
) -> ArrayDataset:
    """Return `n` images of `shape` (H, W, C), labels balanced over `classes`, all from `seed`."""
    if n < 1 or classes < 2 or len(shape) != 3 or min(shape) < 1:
        raise ConfigError(
            f"synthetic_dataset needs n >= 1, classes >= 2 and shape (H, W, C) >= 1, got "
            f"n={n}, classes={classes}, shape={shape}"
        )
    rng = np.random.default_rng(seed)
    h, w, c = (int(s) for s in shape)
    protos = _prototypes((h, w, c), classes, rng)
    labels = rng.permutation(np.arange(n) % classes).astype(np.int64)
    images = protos[labels] + rng.normal(0.0, noise, size=(n, h, w, c))
    images = np.clip(np.rint(images), 0, 255).astype(np.uint8)
    names = tuple(f"class{k}" for k in range(classes))
    return ArrayDataset("synthetic", images, labels, names)
