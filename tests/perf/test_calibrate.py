"""Calibration on real emulator measurements, cache keying and invalidation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcumixq.perf.calibrate import (
    Measurement,
    cache_path,
    calibration_specs,
    fit_predictor,
    load_predictor,
    measure,
    save_predictor,
    sources_hash,
)
from mcumixq.perf.features import LayerSpec
from mcumixq.perf.predictor import FamilyFit, Predictor


def _conv(h: int, cin: int, cout: int) -> LayerSpec:
    return LayerSpec(
        kind="conv2d", in_shape=(h, h, cin), out_shape=(h, h, cout), kernel=(3, 3),
        padding=(1, 1, 1, 1), w_bits=8, a_bits=8, out_bits=8,
    )  # fmt: skip


@pytest.mark.emulator
@pytest.mark.toolchain
def test_fit_on_real_measurements_predicts_a_held_out_layer(tmp_path: Path) -> None:
    """Ten measured 8/8 3x3 convs fit one loop nest; an eleventh shape is predicted closely."""
    shapes = [(4, 8, 8), (6, 8, 16), (8, 16, 8), (5, 16, 16), (6, 24, 8), (4, 32, 16),
              (7, 8, 24), (8, 8, 32), (5, 32, 8), (6, 16, 24)]  # fmt: skip
    ms = [measure(_conv(*s), str(tmp_path / str(i))) for i, s in enumerate(shapes)]
    assert all(m.bit_exact and m.cycles > 0 for m in ms)
    pred = fit_predictor(ms)
    held = _conv(10, 16, 16)
    truth = measure(held, str(tmp_path / "held"))
    got = pred.predict(held)
    assert abs(got - truth.cycles) / truth.cycles < 0.10, (got, truth.cycles)


@pytest.mark.slow
def test_calibration_specs_are_seeded_and_sized() -> None:
    a = calibration_specs(quick=True, seed=3)
    b = calibration_specs(quick=True, seed=3)
    assert a == b
    assert {s.kind for s in a} == {"conv2d", "dwconv2d", "linear", "maxpool", "avgpool", "add"}
    assert all(s.macs <= 1_000_000 for s in a)


def _tiny_predictor() -> Predictor:
    fit = FamilyFit(group="smlad2/conv2d", columns=("const",), coef=(5.0,), n_cases=3,
                    train_mape=0.0)  # fmt: skip
    return Predictor(fits={fit.group: fit}, key=sources_hash())


def test_cache_round_trip_and_key(tmp_path: Path) -> None:
    path = save_predictor(_tiny_predictor(), tmp_path)
    assert path == cache_path(tmp_path)
    assert sources_hash() in path.name
    loaded = load_predictor(tmp_path)
    assert loaded is not None and loaded.fits == _tiny_predictor().fits


def test_corrupt_or_missing_cache_means_recalibrate(tmp_path: Path) -> None:
    assert load_predictor(tmp_path) is None
    cache_path(tmp_path).parent.mkdir(parents=True, exist_ok=True)
    cache_path(tmp_path).write_text("{not json")
    assert load_predictor(tmp_path) is None


def test_feature_change_refits_from_stored_measurements(tmp_path: Path) -> None:
    spec = _conv(4, 8, 8)
    ms = [Measurement(spec=_conv(h, 8, 8), family="smlad2", scheme="smlad2",
                      kernel="mq_conv2d_w8a8_nhwc_3x3_2x4c2__m4_smlad2", cycles=1000 * h * h,
                      bit_exact=True) for h in (3, 4, 5, 6)]  # fmt: skip
    save_predictor(_tiny_predictor(), tmp_path, ms)
    doc = json.loads(cache_path(tmp_path).read_text())
    doc["features_version"] = -1
    cache_path(tmp_path).write_text(json.dumps(doc))
    pred = load_predictor(tmp_path)
    assert pred is not None and "smlad2/conv2d" in pred.fits
    assert pred.fits["smlad2/conv2d"].n_cases == 4
    assert spec in [m.spec for m in ms]
