"""prepare_qat: every zoo model, BN folded, shared tensor quantizers, clear unsupported errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mcumixq.errors import ConfigError, UnsupportedModelError
from mcumixq.models import MODELS, build_model
from mcumixq.quant import QAdd, QConv2d, QuantConfig, prepare_qat, quant_layers
from mcumixq.quant.quantizers import InputQuant

GEOMETRY = {"dscnn": (1, (49, 10)), "resnet8": (3, 32), "mobilenetv1": (3, 32)}


def _model(name: str) -> tuple[nn.Module, torch.Tensor]:
    c, size = GEOMETRY.get(name, (1, 28))
    hw = (size, size) if isinstance(size, int) else size
    model = build_model(name, in_channels=c, in_size=size, num_classes=10, width=0.25)
    return model, torch.rand(4, c, *hw)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_prepare_every_zoo_model(name: str) -> None:
    model, x = _model(name)
    qat = prepare_qat(model, QuantConfig.from_bits("8/8"), x)
    layers = quant_layers(qat)
    float_layers = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert list(layers) == float_layers  # by FQN, in execution order
    assert not any(isinstance(m, nn.BatchNorm2d) for m in qat.modules())  # folded
    assert isinstance(next(iter(layers.values())).input_quant, InputQuant)
    with torch.no_grad():
        y = qat.eval()(x)
        ref = model.eval()(x)
    assert y.shape == (4, 10)
    # 8/8 fake quantization stays close to the float model it was folded from
    assert float((y - ref).abs().max()) < 0.15 * float(ref.abs().max()) + 1e-3


def test_float_model_is_left_untouched() -> None:
    model, x = _model("tinyvgg")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prepare_qat(model, QuantConfig.from_bits("4/4"), x)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_per_layer_bits_and_shared_input_quantizers() -> None:
    model, x = _model("resnet8")
    cfg = QuantConfig.from_json({"*": "4/4", "stem.conv": "8/8", "stack2.conv1": "2/3"})
    qat = prepare_qat(model, cfg, x)
    layers = quant_layers(qat)
    assert (layers["stem.conv"].w_bits, layers["stem.conv"].a_bits) == (8, 8)
    assert (layers["stack2.conv1"].w_bits, layers["stack2.conv1"].a_bits) == (2, 3)
    # conv1 and the 1x1 shortcut read the same tensor: one quantizer object, one a_bits
    assert layers["stack2.shortcut"].input_quant is layers["stack2.conv1"].input_quant
    assert layers["stack2.shortcut"].a_bits == 3
    adds = [m for m in qat.modules() if isinstance(m, QAdd)]
    assert [a.fqn for a in adds] == ["stack1.add", "stack2.add_1", "stack3.add_2"]
    assert all(a.act == "relu" for a in adds)


def test_bits_can_change_after_prepare() -> None:
    model, x = _model("tinyvgg")
    qat = prepare_qat(model, QuantConfig.from_bits("8/8"), x).eval()
    y8 = qat(x)
    layer = quant_layers(qat)["features.3"]
    assert isinstance(layer, QConv2d)
    layer.w_bits, layer.a_bits = 2, 2
    y2 = qat(x)
    assert not torch.allclose(y8, y2)
    w2 = layer.weight_int()
    assert int(w2.min()) >= -2 and int(w2.max()) <= 1
    torch.testing.assert_close(layer.fake_weight(8), layer.fake_weight(w_bits=8))


def test_unknown_layer_in_map() -> None:
    model, x = _model("tinyvgg")
    with pytest.raises(ConfigError, match=r"features\.42"):
        prepare_qat(model, QuantConfig.from_json({"features.42": "4/4"}), x)


class _WithGelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GELU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 6 * 6, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class _WithLstm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


def test_unsupported_layers_name_fqn_and_type() -> None:
    with pytest.raises(UnsupportedModelError, match=r"'body\.1' \(GELU\).*Conv2d"):
        prepare_qat(_WithGelu(), QuantConfig(), torch.rand(2, 1, 8, 8))
    with pytest.raises(UnsupportedModelError, match=r"'rnn' \(LSTM\)"):
        prepare_qat(_WithLstm(), QuantConfig(), torch.rand(3, 2, 8))


def test_dilated_conv_is_unsupported() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2), nn.ReLU())
    with pytest.raises(UnsupportedModelError, match=r"'0' \(Conv2d with dilation"):
        prepare_qat(model, QuantConfig(), torch.rand(1, 1, 9, 9))
