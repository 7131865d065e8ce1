"""Calibrate the cycle predictor on emulator measurements and cache the result on disk.

Why this set: each fit group (kernel family x op kind) needs shapes whose trip counts vary
independently (pixels, channels, window, container widths) to pin down its coefficients, and
small enough shapes that one build + emulation takes well under a second. Specs are drawn
from a seeded grid, each is assigned to the family the registry picks (the same choice codegen
makes), and the groups are filled round-robin so every group that occurs gets cases.

The cache is a JSON file named by a hash of everything a measurement depends on (kernel
sources and templates, code generation, the cycle model and build flags); the fit also
depends on FEATURES_VERSION. A changed kernel gives a new key, so a stale cache is never used;
a corrupt file is recalibrated. Raw measurements are kept, so a feature change only refits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from mcumixq.codegen.bench import bench_case
from mcumixq.errors import ConfigError, InputError, MqError
from mcumixq.files import write_json
from mcumixq.ir.builder import resolve_padding
from mcumixq.perf.features import FEATURES_VERSION, PROBE_OP, LayerSpec, probe_graph
from mcumixq.perf.predictor import (
    KernelChoice,
    Predictor,
    choose_kernel,
    fit_group,
    group_of,
    groups_of,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# packing/ is in the key because its chooser decides which kernel renders a layer.
KEY_SOURCES = (
    "kernels",
    "packing",
    "codegen",
    "target/cycles.py",
    "target/build.py",
    "target/emulator.py",
)
KEY_SUFFIXES = (".py", ".c", ".h", ".in", ".S", ".ld")
MAX_MACS = 1_000_000
FIRST_LAYER_SHARE = 0.25
RECT_SHARE = 0.2
MIN_GROUP_CASES = 30  # candidates per family before drawing stops (when possible)
DRAW_FACTOR = 6  # at most want * DRAW_FACTOR draws per kind
# Channel counts weighted like real networks (multiples of 4/8, a few first-layer 1 and 3).
CONV_CHANNELS = (1, 3, 4, 6, 8, 8, 12, 16, 16, 16, 24, 32, 32, 32, 48, 64, 64, 96)
OUT_CHANNELS = (4, 6, 8, 8, 10, 16, 16, 16, 24, 32, 32, 32, 48, 64, 64)
DW_CHANNELS = (4, 8, 12, 16, 24, 32, 48, 64)
MIN_MACS = 500
MIN_FIT_CASES = 12  # a tile group with fewer cases falls back to its family/kind fit
# Pointwise w2a2 convs (the out3x2 family) are about 1 in 500 random draws, so a fixed set
# joins them: (map side, Cin, Cout, out bits), spread so that groups of 6 pixels, K (chunked
# past 113) and Cout vary independently, enough cases for every loop count of the family to
# get its own coefficient; the first QUICK_POINTWISE (K <= 113) in a quick calibration.
POINTWISE_W2A2 = (
    (12, 64, 64, 2), (8, 32, 32, 2), (6, 8, 64, 2), (14, 48, 24, 2), (5, 100, 40, 2),
    (4, 113, 8, 2), (7, 16, 12, 4), (10, 24, 16, 2), (3, 64, 20, 8), (12, 40, 48, 2),
    (9, 20, 8, 4), (5, 7, 30, 2), (8, 128, 32, 2), (6, 200, 24, 2), (4, 256, 16, 4),
    (10, 160, 16, 2), (12, 120, 24, 2), (5, 300, 20, 2), (7, 180, 40, 8), (3, 400, 12, 2),
    (9, 64, 40, 4), (16, 32, 48, 2), (11, 96, 28, 2), (6, 140, 64, 2),
)  # fmt: skip
QUICK_POINTWISE = 6
# Cases per op kind (full, quick); groups within a kind share them round-robin.
CASES: dict[str, tuple[int, int]] = {
    "conv2d": (600, 120),
    "linear": (100, 24),
    "dwconv2d": (150, 16),
    "maxpool": (60, 16),
    "avgpool": (60, 16),
    "add": (40, 12),
}


def sources_hash() -> str:
    """sha256 (16 hex) of the kernel, codegen and cycle-model sources measurements depend on."""
    h = hashlib.sha256()
    for rel in KEY_SOURCES:
        root = PACKAGE_DIR / rel
        files = [root] if root.is_file() else sorted(root.rglob("*"))
        for f in files:
            if f.is_file() and f.suffix in KEY_SUFFIXES and "__pycache__" not in f.parts:
                h.update(str(f.relative_to(PACKAGE_DIR)).encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_path(cache_dir: str | Path) -> Path:
    """The predictor file for the current sources in `cache_dir`."""
    return Path(cache_dir) / f"predictor-{sources_hash()}.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Measurement:
    """One calibration case: the spec, the kernel that ran it (with its loop counts, as
    `perf.loops` counted them for FEATURES_VERSION) and its cycles per call."""

    spec: LayerSpec
    family: str
    scheme: str
    kernel: str
    cycles: int
    bit_exact: bool
    loops: tuple[tuple[str, float], ...] = ()

    @property
    def choice(self) -> KernelChoice:
        return KernelChoice(
            family=self.family, scheme=self.scheme, kernel=self.kernel, loops=self.loops
        )

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["spec"] = asdict(self.spec)
        d["loops"] = dict(self.loops)
        return d

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Measurement:
        s = obj["spec"]
        spec = LayerSpec(
            kind=s["kind"], in_shape=tuple(s["in_shape"]), out_shape=tuple(s["out_shape"]),
            kernel=tuple(s["kernel"]), stride=tuple(s["stride"]), padding=tuple(s["padding"]),
            w_bits=s["w_bits"], a_bits=s["a_bits"], out_bits=s["out_bits"],
        )  # fmt: skip
        loops = tuple((str(k), float(v)) for k, v in sorted(obj.get("loops", {}).items()))
        return cls(
            spec=spec, family=obj["family"], scheme=obj["scheme"], kernel=obj["kernel"],
            cycles=int(obj["cycles"]), bit_exact=bool(obj["bit_exact"]), loops=loops,
        )  # fmt: skip


def _bits(rng: np.random.Generator) -> tuple[int, int, int]:
    w, a, o = (int(v) for v in rng.integers(2, 9, size=3))
    return w, a, o


def _conv_spec(rng: np.random.Generator, depthwise: bool) -> LayerSpec:
    h = int(rng.choice([3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 28]))
    cin = int(rng.choice(DW_CHANNELS if depthwise else CONV_CHANNELS))
    first = not depthwise and rng.random() < FIRST_LAYER_SHARE
    if first:  # image input: few channels, big map, sometimes a big window (K > 32)
        h, cin = int(rng.choice([12, 16, 20, 24, 28, 32])), int(rng.choice([1, 1, 3]))
    w_in = h
    cout = cin if depthwise else int(rng.choice(OUT_CHANNELS))
    k = int(rng.choice([k for k in ((3, 3, 5, 7) if first else (1, 3, 3, 3, 5)) if k <= h]))
    kh = kw = k
    if rng.random() < RECT_SHARE:  # audio-like maps and windows (DS-CNN: 49x10, 10x4)
        h = int(rng.choice([h, 16, 25, 33, 49])) if first else h
        w_in = int(rng.choice([4, 5, 6, 8, 10]))
        kh, kw = int(rng.choice([1, 3, 4, 5, 8, 10])), int(rng.choice([1, 2, 3, 4]))
        h, kh, kw = max(h, kh), min(kh, max(h, kh)), min(kw, w_in)
    s = int(rng.choice([1, 1, 1, 2]))
    pad = resolve_padding("same", (kh, kw), (s, s), (h, w_in))
    oh = (h + pad[0] + pad[2] - kh) // s + 1
    ow = (w_in + pad[1] + pad[3] - kw) // s + 1
    w, a, o = _bits(rng)
    return LayerSpec(
        kind="dwconv2d" if depthwise else "conv2d", in_shape=(h, w_in, cin),
        out_shape=(oh, ow, cout), kernel=(kh, kw), stride=(s, s), padding=pad,
        w_bits=w, a_bits=a, out_bits=o,
    )  # fmt: skip


def _linear_spec(rng: np.random.Generator) -> LayerSpec:
    hw = int(rng.choice([1, 1, 2, 3, 4, 7]))
    c = int(rng.choice([8, 16, 24, 32, 64, 96, 128]))
    shape = (c,) if hw == 1 else (hw, hw, c)
    cout = int(rng.choice([2, 4, 8, 10, 10, 12, 16, 32, 64]))
    w, a, o = _bits(rng)
    return LayerSpec(
        kind="linear", in_shape=shape, out_shape=(cout,), w_bits=w, a_bits=a, out_bits=o
    )


def _pool_spec(rng: np.random.Generator, kind: str) -> LayerSpec:
    h = int(rng.choice([2, 4, 6, 8, 12, 16, 20, 28]))
    c = int(rng.choice([1, 3, 4, 8, 16, 24, 32, 64]))
    _, a, o = _bits(rng)
    if kind == "add":
        return LayerSpec(kind="add", in_shape=(h, h, c), out_shape=(h, h, c), a_bits=a, out_bits=o)
    k = h if kind == "avgpool" and rng.random() < 0.5 else 2
    oh = (h - k) // k + 1
    out = a if kind == "maxpool" else o
    return LayerSpec(
        kind=kind, in_shape=(h, h, c), out_shape=(oh, oh, c), kernel=(k, k), stride=(k, k),
        a_bits=a, out_bits=out,
    )  # fmt: skip


def _draw(rng: np.random.Generator, kind: str) -> LayerSpec:
    if kind in ("conv2d", "dwconv2d"):
        return _conv_spec(rng, kind == "dwconv2d")
    if kind == "linear":
        return _linear_spec(rng)
    return _pool_spec(rng, kind)


def _candidates(rng: np.random.Generator, kind: str, want: int, isa: str) -> dict[str, list]:
    """Draw specs of `kind` by the fit group they run on, until every group seen has
    MIN_GROUP_CASES candidates (families that serve few bit pairs are drawn rarely)."""
    by_group: dict[str, list[LayerSpec]] = {}
    seen: set[str] = set()
    for attempt in range(want * DRAW_FACTOR):
        enough = all(len(v) >= MIN_GROUP_CASES for v in by_group.values())
        if attempt >= 2 * want and enough:
            break
        spec = _draw(rng, kind)
        if spec.key in seen or not MIN_MACS <= max(spec.macs, MIN_MACS) <= MAX_MACS:
            continue
        seen.add(spec.key)
        group = group_of(choose_kernel(spec, isa=isa), spec)
        by_group.setdefault(group, []).append(spec)
    return by_group


def calibration_specs(*, quick: bool = False, seed: int = 0, isa: str = "m4") -> list[LayerSpec]:
    """Seeded calibration specs, spread round-robin over the families each kind runs on."""
    rng = np.random.default_rng(seed)
    out: list[LayerSpec] = []
    for kind, (full, short) in CASES.items():
        want = short if quick else full
        by_group = _candidates(rng, kind, want, isa)
        lists = [by_group[g] for g in sorted(by_group)]
        picked: list[LayerSpec] = []
        while len(picked) < want and any(lists):
            for lst in lists:
                if lst and len(picked) < want:
                    picked.append(lst.pop(0))
        out += picked
    seen = {s.key for s in out}
    return out + [s for s in _pointwise_specs(quick) if s.key not in seen]


def _pointwise_specs(quick: bool) -> list[LayerSpec]:
    """The fixed pointwise w2a2 layers of POINTWISE_W2A2 (1x1, stride 1, no padding)."""
    shapes = POINTWISE_W2A2[:QUICK_POINTWISE] if quick else POINTWISE_W2A2
    return [
        LayerSpec(
            kind="conv2d", in_shape=(h, h, c), out_shape=(h, h, k), w_bits=2, a_bits=2, out_bits=o
        )
        for h, c, k, o in shapes
    ]


def measure(spec: LayerSpec, work_dir: str, isa: str = "m4") -> Measurement:
    """Build and emulate one spec's probe graph; cycles of one call of its kernel."""
    graph = probe_graph(spec)
    choice = choose_kernel(spec, isa=isa, graph=graph)
    try:
        res = bench_case(graph, PROBE_OP, out_dir=Path(work_dir) / "case", isa=isa)
    except MqError as err:  # a broken case must not sink the whole calibration: report it
        log.warning("calibration case %s failed: %s", spec.key, err)
        return Measurement(
            spec=spec, family=choice.family, scheme=choice.scheme, kernel="", cycles=0,
            bit_exact=False,
        )  # fmt: skip
    return Measurement(
        spec=spec, family=choice.family, scheme=res.scheme, kernel=res.kernel,
        cycles=res.cycles, bit_exact=res.bit_exact, loops=choice.loops,
    )  # fmt: skip


def _measure_in_tmp(spec: LayerSpec) -> Measurement:
    with tempfile.TemporaryDirectory(prefix="mq-cal-") as tmp:
        return measure(spec, tmp)


def _run_all(specs: list[LayerSpec], workers: int) -> Iterator[Measurement]:
    if workers <= 1:
        yield from map(_measure_in_tmp, specs)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        yield from pool.map(_measure_in_tmp, specs)


def fit_predictor(measurements: list[Measurement], *, key: str = "") -> Predictor:
    """Fit every fit group (tile and family/kind) from measurements (bit-exact ones only)."""
    groups: dict[str, list[tuple[dict[str, float], float]]] = {}
    counted: dict[str, bool] = {}
    for m in measurements:
        if not m.bit_exact or m.cycles <= 0:
            log.warning("calibration case %s: not bit-exact or no cycles; skipped", m.spec.key)
            continue
        choice = m.choice
        row = (choice.features(m.spec), float(m.cycles))
        for group in groups_of(choice, m.spec):
            groups.setdefault(group, []).append(row)
            counted[group] = counted.get(group, True) and bool(choice.loops)
    fits = {
        g: fit_group(g, rows, counted=counted[g])
        for g, rows in sorted(groups.items())
        if len(rows) >= (MIN_FIT_CASES if g.count("/") >= 2 else 3)
    }
    if not fits:
        raise ConfigError("calibration produced no usable measurements; check the toolchain")
    return Predictor(fits=fits, key=key)


def recount(measurements: list[Measurement], isa: str = "m4") -> list[Measurement]:
    """The measurements with loop counts recomputed (after a FEATURES_VERSION change)."""
    out = []
    for m in measurements:
        loops = choose_kernel(m.spec, isa=isa).loops if m.bit_exact else ()
        out.append(replace(m, loops=loops))
    return out


def calibrate(
    cache_dir: str | Path,
    *,
    quick: bool = False,
    workers: int = 2,
    seed: int = 0,
    progress: Progress | None = None,
) -> Predictor:
    """Measure the calibration set, fit, and write the predictor to `cache_dir`."""
    specs = calibration_specs(quick=quick, seed=seed)
    it: Iterable[Measurement] = _run_all(specs, workers)
    if progress is not None:
        it = progress(it, "calibrating", len(specs))
    measurements = list(it)
    key = sources_hash()
    pred = fit_predictor(measurements, key=key)
    save_predictor(pred, cache_dir, measurements)
    return pred


def save_predictor(
    pred: Predictor, cache_dir: str | Path, measurements: list[Measurement] | None = None
) -> Path:
    """Write the predictor (and measurements, kept from an existing file if not given)."""
    path = cache_path(cache_dir)
    if measurements is None and path.is_file():
        measurements = _read_measurements(path)
    doc = pred.to_json()
    doc["measurements"] = [m.to_json() for m in measurements or []]
    write_json(path, doc)
    return path


def _read_measurements(path: Path) -> list[Measurement]:
    try:
        doc = json.loads(path.read_text())
        return [Measurement.from_json(m) for m in doc.get("measurements", [])]
    except (OSError, ValueError, KeyError, TypeError) as err:
        log.debug("cannot read measurements of %s: %s", path, err)
        return []


def load_measurements(cache_dir: str | Path) -> list[Measurement]:
    """The raw measurements stored with the cached predictor for the current sources."""
    path = cache_path(cache_dir)
    return _read_measurements(path) if path.is_file() else []


def load_predictor(cache_dir: str | Path) -> Predictor | None:
    """The cached predictor for the current sources, refit if the features changed; else None."""
    path = cache_path(cache_dir)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        if doc.get("features_version") != FEATURES_VERSION:
            measurements = recount(_read_measurements(path))
            pred = fit_predictor(measurements, key=sources_hash())
            save_predictor(pred, cache_dir, measurements)
            return pred
        return Predictor.from_json(doc, where=str(path))
    except (OSError, ValueError, InputError, ConfigError) as err:
        log.warning("predictor cache %s unusable (%s); recalibrating", path, err)
        return None


def load_or_calibrate(
    cache_dir: str | Path,
    *,
    quick: bool = False,
    workers: int = 2,
    progress: Progress | None = None,
) -> Predictor:
    """The cached predictor if valid, else a fresh calibration (written to the cache)."""
    pred = load_predictor(cache_dir)
    if pred is not None:
        return pred
    return calibrate(cache_dir, quick=quick, workers=workers, progress=progress)
