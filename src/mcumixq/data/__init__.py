"""Datasets as NumPy (`load_dataset`) and PyTorch loaders (`make_loader`); nothing downloads."""

from mcumixq.data.dataset import ArrayDataset
from mcumixq.data.fashion_mnist import DEFAULT_DIR as FASHION_MNIST_DIR
from mcumixq.data.registry import DATASETS, load_dataset
from mcumixq.data.splits import stratified_subset, train_test_split
from mcumixq.data.synthetic import synthetic_dataset
from mcumixq.data.torch_loader import augment_batch, make_loader, to_tensors

__all__ = [
    "DATASETS",
    "FASHION_MNIST_DIR",
    "ArrayDataset",
    "augment_batch",
    "load_dataset",
    "make_loader",
    "stratified_subset",
    "synthetic_dataset",
    "to_tensors",
    "train_test_split",
]
