"""Predictor fit on synthetic measurements, spec/feature invariants, JSON round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcumixq.errors import ConfigError, InputError
from mcumixq.perf.features import LayerSpec, features, layer_spec, probe_graph
from mcumixq.perf.predictor import FamilyFit, Predictor, fit_group


def _conv(h: int, cin: int, cout: int, w: int = 4, a: int = 4, o: int = 4) -> LayerSpec:
    return LayerSpec(
        kind="conv2d", in_shape=(h, h, cin), out_shape=(h, h, cout), kernel=(3, 3),
        padding=(1, 1, 1, 1), w_bits=w, a_bits=a, out_bits=o,
    )  # fmt: skip


def test_fit_recovers_known_coefficients(rng: np.random.Generator) -> None:
    """Cycles generated from a known linear cost model are fitted back exactly."""
    truth = {"const": 300.0, "pixels": 20.0, "steps": 2.3, "out8": 14.0, "words8": 1.6}
    samples = []
    for _ in range(30):
        spec = _conv(int(rng.integers(3, 17)), int(rng.integers(1, 65)), int(rng.integers(2, 65)),
                     8, 8, 8)  # fmt: skip
        f = features(spec, "smlad2")
        samples.append((f, sum(c * f[k] for k, c in truth.items())))
    fit = fit_group("smlad2/conv2d", samples)
    assert fit.train_mape < 0.01
    held = _conv(11, 40, 24, 8, 8, 8)
    f = features(held, "smlad2")
    want = sum(c * f[k] for k, c in truth.items())
    assert fit.predict(f) == pytest.approx(want, rel=1e-3)


def test_fit_is_relative_and_nonnegative(rng: np.random.Generator) -> None:
    """Noisy data: coefficients stay >= 0 and the relative error stays small."""
    samples = []
    for _ in range(40):
        spec = _conv(int(rng.integers(3, 17)), int(rng.integers(1, 65)), int(rng.integers(2, 65)))
        f = features(spec, "chpar4")
        y = (100 + 1.2 * f["steps"] + 5 * f["extract"] + 9 * f["out4"]) * rng.uniform(0.98, 1.02)
        samples.append((f, y))
    fit = fit_group("slbc/conv2d", samples)
    assert min(fit.coef) >= 0.0
    assert fit.train_mape < 3.0


def test_fit_needs_cases() -> None:
    with pytest.raises(ConfigError, match="need >= 3"):
        fit_group("x/conv2d", [({"const": 1.0}, 10.0)])


def test_fit_rejects_zero_cycles() -> None:
    rows = [({"const": 1.0, "macs": float(i)}, float(i)) for i in range(4)]
    with pytest.raises(ConfigError, match="no cycles"):
        fit_group("x/conv2d", rows)


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(3, 12), cin=st.integers(1, 32), cout=st.integers(1, 32),
    w=st.integers(2, 8), a=st.integers(2, 8),
)  # fmt: skip
def test_probe_graph_has_the_spec(h: int, cin: int, cout: int, w: int, a: int) -> None:
    """A probe graph's op has exactly the requested spec (the registry sees the real layer)."""
    spec = _conv(h, cin, cout, w, a, a)
    g = probe_graph(spec, calib=1)
    assert layer_spec(g, g.op("op")) == spec


@pytest.mark.parametrize(
    "spec",
    [
        LayerSpec(kind="linear", in_shape=(3, 3, 16), out_shape=(10,), w_bits=2, a_bits=5),
        LayerSpec(
            kind="dwconv2d",
            in_shape=(8, 8, 8),
            out_shape=(8, 8, 8),
            kernel=(3, 3),
            padding=(1, 1, 1, 1),
            w_bits=4,
            a_bits=4,
            out_bits=4,
        ),
        LayerSpec(
            kind="maxpool",
            in_shape=(8, 8, 4),
            out_shape=(4, 4, 4),
            kernel=(2, 2),
            stride=(2, 2),
            a_bits=3,
            out_bits=3,
        ),
        LayerSpec(
            kind="avgpool",
            in_shape=(4, 4, 8),
            out_shape=(1, 1, 8),
            kernel=(4, 4),
            stride=(4, 4),
            a_bits=6,
            out_bits=8,
        ),
        LayerSpec(kind="add", in_shape=(4, 4, 8), out_shape=(4, 4, 8), a_bits=8, out_bits=4),
    ],
)
def test_probe_graph_every_kind(spec: LayerSpec) -> None:
    g = probe_graph(spec, calib=1)
    assert layer_spec(g, g.op("op")) == spec


def test_features_scale_with_trip_counts() -> None:
    small, big = features(_conv(4, 8, 8), "smlad2"), features(_conv(8, 8, 8), "smlad2")
    assert big["pixels"] == 4 * small["pixels"]
    assert big["steps"] == 4 * small["steps"]
    assert small["out4"] > 0 and small["out8"] == 0 and small["words4"] > 0
    assert features(_conv(4, 8, 8, 4, 4, 4), "chpar4")["extract"] > 0


def test_with_bits_keeps_geometry() -> None:
    s = _conv(6, 8, 16)
    t = s.with_bits(2, 3, 5)
    assert (t.w_bits, t.a_bits, t.out_bits) == (2, 3, 5)
    assert (t.in_shape, t.out_shape, t.kernel) == (s.in_shape, s.out_shape, s.kernel)
    pool = LayerSpec(kind="maxpool", in_shape=(4, 4, 2), out_shape=(2, 2, 2), kernel=(2, 2),
                     stride=(2, 2))  # fmt: skip
    assert pool.with_bits(2, 3).out_bits == 3


def test_bad_spec_is_config_error() -> None:
    with pytest.raises(ConfigError, match="kind"):
        LayerSpec(kind="conv3d", in_shape=(1,), out_shape=(1,))
    with pytest.raises(ConfigError, match="w_bits"):
        _conv(4, 4, 4, w=9)


def test_predictor_json_round_trip() -> None:
    fit = FamilyFit(group="smlad2/conv2d", columns=("const", "steps"), coef=(10.0, 2.0),
                    n_cases=5, train_mape=1.0)  # fmt: skip
    p = Predictor(fits={fit.group: fit}, key="abc")
    q = Predictor.from_json(p.to_json())
    assert q.fits == p.fits and q.key == "abc"
    with pytest.raises(InputError, match="calibrate"):
        Predictor.from_json({"format": "other"})


def test_uncalibrated_group_names_the_fix() -> None:
    p = Predictor(fits={})
    with pytest.raises(ConfigError, match="mcumixq calibrate"):
        p.predict(_conv(4, 8, 8))


def test_counted_fit_keeps_every_loop_or_only_the_core() -> None:
    """Loop counts are all fitted when there are enough cases; with too few (a quick
    calibration) only the work and output counts every counter has, so it cannot fit noise."""
    rows = [
        ({"const": 1.0, "steps": float(10 * i), "out8": float(i), "u_px": float(i % 3 + 1)},
         100.0 + 20.0 * i + (i % 3))
        for i in range(1, 9)
    ]  # fmt: skip
    assert fit_group("x/conv2d", rows, counted=True).columns == ("const", "out8", "steps", "u_px")
    few = fit_group("x/conv2d", rows[:4], counted=True)
    assert few.columns == ("const", "out8", "steps")
