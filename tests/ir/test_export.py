"""export_graph: the integer reference agrees with the fake-quant model it was exported from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mcumixq.data import load_dataset, make_loader, to_tensors
from mcumixq.errors import ConfigError
from mcumixq.ir.export import export_graph, pixels_to_input
from mcumixq.ir.mqz import load_graph, save_graph
from mcumixq.ir.reference import run_graph
from mcumixq.models import build_model
from mcumixq.quant import QuantConfig, prepare_qat, quant_layers, train

SETTINGS = {
    "w8a8": {"*": "8/8"},
    "w4a4": {"*": "4/4"},
    "w2a2": {"*": "2/2"},
    "mixed": {"*": "2/4", "features.0": "8/8", "features.3": "3/5", "classifier.1": "8/8"},
}


@pytest.fixture(autouse=True)
def _one_thread() -> object:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits() -> dict:
    """A float TinyVGG trained briefly on sklearn digits (8x8), plus its loaders."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    train_ds, test_ds = load_dataset("digits", "train"), load_dataset("digits", "test")
    tl = make_loader(train_ds, 64, shuffle=True, augment=False, seed=0)
    el = make_loader(test_ds, 400, shuffle=False, augment=False, seed=0)
    model = build_model("tinyvgg", in_channels=1, in_size=8, num_classes=10, width=0.25)
    train(model, tl, el, epochs=4, lr=0.1, progress=False)
    torch.set_num_threads(threads)
    return {"model": model, "train": tl, "test": el, "test_ds": test_ds,
            "calib": to_tensors(train_ds)[0][:256]}  # fmt: skip


def _codes(qat: nn.Module, graph: object, x: torch.Tensor) -> np.ndarray:
    """The fake-quant model's output as integer codes of the graph's output tensor."""
    out = graph.tensors[graph.output]  # type: ignore[attr-defined]
    with torch.no_grad():
        y = qat.eval()(x)
    return np.floor(y.numpy() / out.scale + 0.5).astype(np.int64) + out.zero_point


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_trained_model_agreement(digits: dict, setting: str) -> None:
    qat = prepare_qat(digits["model"], QuantConfig.from_json(SETTINGS[setting]), digits["calib"])
    train(qat, digits["train"], digits["test"], epochs=1, lr=0.01, progress=False)
    graph = export_graph(qat, digits["calib"], name=f"digits-{setting}")
    ds = digits["test_ds"]
    x, _ = to_tensors(ds)
    with torch.no_grad():
        fake = qat.eval()(x).argmax(1).numpy()
    ref = run_graph(graph, pixels_to_input(ds.images, graph.tensors[graph.input].bits))
    agreement = float((ref.argmax(1) == fake).mean())
    assert agreement >= 0.99, f"{setting}: top-1 agreement {agreement:.4f}"
    # well above chance (0.1); 2-bit everything (a 4-level input image) after 1 epoch is weak
    assert float((ref.argmax(1) == ds.labels).mean()) > (0.3 if setting == "w2a2" else 0.6)
    first = QuantConfig.from_json(SETTINGS[setting]).pair_for("features.0")
    assert graph.meta["bits"]["features.0"] == str(first)
    assert graph.tensors["input"].bits == first.a


ZOO = [("tinyvgg", 3, 16), ("resnet8", 3, 16), ("dscnn", 1, (20, 8)), ("mlp", 3, 6)]


@pytest.mark.parametrize(("name", "channels", "size"), ZOO)
@pytest.mark.parametrize("bits", ["8/8", "3/5"])
def test_zoo_models_export_bit_exact_codes(name: str, channels: int, size, bits: str) -> None:
    hw = (size, size) if isinstance(size, int) else size
    model = build_model(name, in_channels=channels, in_size=size, num_classes=10, width=0.25)
    pixels = torch.randint(0, 256, (32, channels, *hw), dtype=torch.uint8)
    x = pixels.float() / 255
    qat = prepare_qat(model, QuantConfig.from_bits(bits), x)
    graph = export_graph(qat, x, name=name)
    ref = run_graph(graph, pixels_to_input(pixels.permute(0, 2, 3, 1).numpy(), int(bits[-1])))
    fake = _codes(qat, graph, x)
    assert np.abs(ref - fake).max() <= 1
    assert (ref == fake).mean() >= 0.99


def test_layouts_ohwi_and_hwc_flatten() -> None:
    model = build_model("tinyvgg", in_channels=3, in_size=8, num_classes=5, width=0.25)
    x = torch.rand(8, 3, 8, 8)
    qat = prepare_qat(model, QuantConfig.from_bits("8/8"), x)
    graph = export_graph(qat, x, name="layout")
    layers = quant_layers(qat)
    w = layers["features.0"].weight_int().numpy()  # OIHW
    np.testing.assert_array_equal(graph.op("features.0").weight, w.transpose(0, 2, 3, 1))
    fc = graph.op("classifier.1")
    src = graph.tensors[fc.inputs[0]]
    h, wd, c = src.shape
    torch_w = layers["classifier.1"].weight_int().numpy()  # columns in CHW order
    for hh, ww, cc in [(0, 0, 1), (h - 1, wd - 1, c - 1), (0, wd - 1, 2)]:
        np.testing.assert_array_equal(
            fc.weight[:, (hh * wd + ww) * c + cc], torch_w[:, (cc * h + hh) * wd + ww]
        )
    assert graph.tensors["input"].scale == pytest.approx(1 / 255)
    assert graph.op("features.0").requant.act_min == 0  # ReLU folded into the clamp


def test_exported_graph_survives_mqz(tmp_path: Path) -> None:
    model = build_model("resnet8", in_channels=3, in_size=8, num_classes=4, width=0.25)
    x = torch.rand(4, 3, 8, 8)
    graph = export_graph(prepare_qat(model, QuantConfig.from_bits("4/4"), x), x, name="r8")
    save_graph(graph, tmp_path / "r8.mqz")
    loaded = load_graph(tmp_path / "r8.mqz")
    xi = np.random.default_rng(0).integers(0, 16, size=(3, 8, 8, 3))
    np.testing.assert_array_equal(run_graph(loaded, xi), run_graph(graph, xi))
    assert [op.kind for op in loaded.ops].count("add") == 3


def test_accumulator_overflow_is_refused() -> None:
    model = build_model("mlp", in_channels=3, in_size=160, num_classes=2, width=0.01)
    with torch.no_grad():
        model.layers[1].weight.fill_(0.01)  # every weight -> +127 at 8 bits, K = 76800
    x = torch.rand(2, 3, 160, 160)
    qat = prepare_qat(model, QuantConfig.from_bits("8/8"), x)
    with pytest.raises(ConfigError, match=r"layers\.1.*exceeds int32"):
        export_graph(qat, x, name="big")


def test_float_model_is_refused() -> None:
    model = build_model("mlp", in_channels=1, in_size=4, num_classes=2, width=0.1)
    with pytest.raises(ConfigError, match="prepare_qat"):
        export_graph(model, torch.rand(1, 1, 4, 4), name="float")


class _Relu6Residual(nn.Module):
    """ReLU6 modules and functions, a method-call add, adaptive pooling: the less common paths."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding="same"), nn.BatchNorm2d(8), nn.ReLU6())
        self.branch = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = nn.functional.relu6(x.add(self.branch(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


@pytest.mark.parametrize("bits", ["8/8", "4/6"])
def test_relu6_add_adaptive_pool_export(bits: str) -> None:
    model = _Relu6Residual()
    with torch.no_grad():
        model.stem[0].weight.mul_(8.0)  # push activations past 6 so the ReLU6 clamp matters
    pixels = torch.randint(0, 256, (32, 3, 6, 6), dtype=torch.uint8)
    x = pixels.float() / 255
    qat = prepare_qat(model, QuantConfig.from_bits(bits), x)
    graph = export_graph(qat, x, name="relu6")
    assert [op.kind for op in graph.ops] == ["conv2d", "conv2d", "add", "avgpool", "linear"]
    stem = graph.op("stem.0")
    assert stem.padding == (1, 1, 1, 1) and stem.requant.act_max <= 2 ** int(bits[-1]) - 1
    ref = run_graph(graph, pixels_to_input(pixels.permute(0, 2, 3, 1).numpy(), int(bits[-1])))
    fake = _codes(qat, graph, x)
    # float32 can land on the other side of a rounding tie (seen: 76.500002 vs 76.49999 in the
    # 36-tap average), so a code may differ by one, rarely
    assert np.abs(ref - fake).max() <= 1 and (ref == fake).mean() >= 0.97


class _LinearOnMap(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4, 3)  # applied to the last (W) axis of a 4-D map

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.relu(self.conv(x)))


def test_linear_on_a_feature_map_is_refused() -> None:
    x = torch.rand(2, 1, 6, 6)
    qat = prepare_qat(_LinearOnMap(), QuantConfig(), x)
    with pytest.raises(ConfigError, match=r"'fc' reads a 4-D tensor"):
        export_graph(qat, x, name="bad")
