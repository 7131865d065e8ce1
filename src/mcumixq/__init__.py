"""mcumixq: mixed-precision (2..8 bit) CNNs from PyTorch to fast C for Arm Cortex-M."""

__version__ = "0.1.0"
__all__ = ["__version__"]
