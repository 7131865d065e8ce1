"""Checkpoints: round trip of float and QAT models, one-line InputErrors for damaged ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mcumixq.errors import InputError
from mcumixq.quant import (
    ModelSpec,
    QuantConfig,
    load_checkpoint,
    prepare_qat,
    quant_layers,
    save_checkpoint,
)

SPEC = ModelSpec(name="tinyvgg", in_channels=1, in_size=(8, 8), num_classes=4, width=0.125)


def _qat(tmp_path: Path) -> tuple[torch.nn.Module, torch.Tensor, Path]:
    x = torch.rand(16, 1, 8, 8)
    cfg = QuantConfig.from_json({"*": "4/4", "features.0": "8/8"})
    qat = prepare_qat(SPEC.build(), cfg, x)
    with torch.no_grad():  # move the parameters away from a fresh build
        for p in qat.parameters():
            p.mul_(1.1)
    ckpt = tmp_path / "ckpt"
    save_checkpoint(ckpt, qat, spec=SPEC, config=cfg, extra={"dataset": "synthetic"})
    return qat, x, ckpt


def test_qat_round_trip(tmp_path: Path) -> None:
    qat, x, ckpt = _qat(tmp_path)
    loaded, cfg = load_checkpoint(ckpt)
    assert cfg is not None and str(cfg.pair_for("features.0")) == "w8a8"
    assert quant_layers(loaded)["features.3"].a_bits == 4
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), qat.eval()(x))
    assert json.loads((ckpt / "config.json").read_text())["dataset"] == "synthetic"
    assert not [p.name for p in ckpt.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_float_round_trip(tmp_path: Path) -> None:
    model = SPEC.build().eval()
    save_checkpoint(tmp_path, model, spec=SPEC, config=None)
    loaded, cfg = load_checkpoint(tmp_path)
    x = torch.rand(2, 1, 8, 8)
    assert cfg is None
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


def test_corrupt_weights(tmp_path: Path) -> None:
    _, _, ckpt = _qat(tmp_path)
    data = (ckpt / "model.pt").read_bytes()
    (ckpt / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="corrupt or foreign weights"):
        load_checkpoint(ckpt)
    (ckpt / "model.pt").write_bytes(b"\x80\x04garbage")
    with pytest.raises(InputError, match=r"model\.pt"):
        load_checkpoint(ckpt)


def test_weights_of_another_model(tmp_path: Path) -> None:
    _, _, ckpt = _qat(tmp_path)
    other = ModelSpec(name="mlp", in_channels=1, in_size=(8, 8), num_classes=4, width=0.25)
    torch.save(other.build().state_dict(), ckpt / "model.pt")
    with pytest.raises(InputError, match="corrupt or foreign"):
        load_checkpoint(ckpt)


def test_missing_and_foreign_config(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a checkpoint"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text("{]")
    with pytest.raises(InputError, match="corrupt checkpoint config"):
        load_checkpoint(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(InputError, match="not an mcumixq checkpoint"):
        load_checkpoint(tmp_path)
