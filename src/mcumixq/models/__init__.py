"""The model zoo (TinyVGG, ResNet-8, DS-CNN, MobileNetV1, MLP) and a conv/linear MAC counter."""

from mcumixq.models.macs import count_macs, layer_macs
from mcumixq.models.registry import MODELS, build_model

__all__ = ["MODELS", "build_model", "count_macs", "layer_macs"]
