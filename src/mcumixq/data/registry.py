"""Pick a dataset by name, select its split and take a stratified `limit` subset.

The one entry point (`load_dataset`) the CLI and the QAT code call; names are stable strings that
appear in report.json (`dataset`).
"""

from __future__ import annotations

from pathlib import Path

from mcumixq.data.cifar10 import load_cifar10
from mcumixq.data.dataset import ArrayDataset
from mcumixq.data.digits import load_digits
from mcumixq.data.fashion_mnist import load_fashion_mnist
from mcumixq.data.folder import load_folder
from mcumixq.data.splits import stratified_subset
from mcumixq.errors import ConfigError

DATASETS = ("fashion-mnist", "digits", "cifar10", "folder")
SPLITS = ("train", "test")


def load_dataset(
    name: str,
    split: str = "train",
    *,
    data_dir: Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    size: int | None = None,
) -> ArrayDataset:
    """Load `split` of dataset `name` from local files; nothing is ever downloaded.

    `seed` fixes the 80/20 split of datasets without an official one (digits, folder: pass the
    same seed for train and test) and the stratified `limit` subset. `size` resizes folder images.
    """
    if name not in DATASETS:
        raise ConfigError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r} for {name}; choose 'train' or 'test'")
    if size is not None and (name != "folder" or size < 1):
        raise ConfigError(f"size={size} applies only to the folder dataset, as a positive int")
    dir_ = None if data_dir is None else Path(data_dir)
    if name == "fashion-mnist":
        ds = load_fashion_mnist(split, dir_)
    elif name == "digits":
        ds = load_digits(split, seed)
    elif name == "cifar10":
        ds = load_cifar10(split, dir_)
    else:
        ds = load_folder(split, dir_, size=size, seed=seed)
    if limit is None:
        return ds
    return ds.subset(stratified_subset(ds.labels, limit, seed))
