"""ArrayDataset rejects wrong dtypes, shapes and label ranges with one-line InputErrors."""

from __future__ import annotations

import numpy as np
import pytest

from mcumixq.data import ArrayDataset
from mcumixq.errors import InputError

IMGS = np.zeros((4, 3, 2, 1), np.uint8)
LABELS = np.array([0, 1, 1, 0], np.int64)


def test_properties_and_subset() -> None:
    ds = ArrayDataset("t", IMGS.copy(), LABELS, ("a", "b"))
    assert len(ds) == 4 and ds.image_shape == (3, 2, 1) and ds.num_classes == 2
    sub = ds.subset(np.array([2, 0]))
    assert sub.labels.tolist() == [1, 0] and sub.classes == ds.classes


@pytest.mark.parametrize(
    ("images", "labels", "classes", "match"),
    [
        (IMGS.astype(np.float32), LABELS, ("a", "b"), "images must be uint8"),
        (IMGS[..., 0], LABELS, ("a", "b"), "images must be uint8"),
        (IMGS, LABELS.astype(np.int32), ("a", "b"), "labels must be int64"),
        (IMGS, LABELS[:3], ("a", "b"), "labels must be int64"),
        (IMGS, LABELS, (), "no class names"),
        (IMGS, LABELS + 1, ("a", "b"), "labels span"),
    ],
)
def test_invalid(
    images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], match: str
) -> None:
    with pytest.raises(InputError, match=match) as err:
        ArrayDataset("t", images, labels, classes)
    assert "\n" not in str(err.value)
