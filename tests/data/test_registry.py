"""load_dataset: names, splits and options are validated before any file is touched."""

from __future__ import annotations

import pytest

from mcumixq.data import DATASETS, load_dataset
from mcumixq.errors import ConfigError


def test_names() -> None:
    assert DATASETS == ("fashion-mnist", "digits", "cifar10", "folder")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "mnist"}, "unknown dataset 'mnist'; choose one of fashion-mnist"),
        ({"name": "digits", "split": "val"}, "unknown split 'val'"),
        ({"name": "digits", "limit": 0}, "limit must be >= 1"),
        ({"name": "digits", "size": 4}, "only to the folder"),
        ({"name": "folder", "size": 0}, "positive int"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_dataset(**kwargs)  # type: ignore[arg-type]
