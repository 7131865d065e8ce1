"""Predict a layer's emulated Cortex-M4 cycles from its LayerSpec: a fitted model per kernel family.

Why analytic + fitted: every kernel is a fixed loop nest, so its cycle count is, to within a
few cycles, a linear function of its loops' trip counts (`perf.loops`, counted from the
family's own plan of the layer) whose coefficients are the loop bodies' costs. Fitting those
coefficients per kernel family and op kind (smlad2: per tile, each a template) on emulator
measurements (`calibrate.py`) gives the cycles of any shape and bit pair in microseconds,
which is what the search needs (49 pairs x every layer, many times).

The fit minimises relative error (rows weighted by 1/cycles, the quantity MAPE measures) with
non-negative coefficients (each is a cost), on columns scaled to unit norm for conditioning.
Which family runs a spec is asked of the kernel registry itself (`candidates` on a probe
graph), so the predictor always prices the kernel codegen will emit. Choices are memoised per
instance: a Predictor is a value owned by its caller, not shared module state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import nnls

from mcumixq.errors import ConfigError, InputError
from mcumixq.ir.graph import Graph, Op
from mcumixq.kernels.registry import candidates, render_layer
from mcumixq.numerics import ALL_PAIRS, BitPair
from mcumixq.packing.layout import storage_bits
from mcumixq.perf.features import (
    FEATURES_VERSION,
    PROBE_OP,
    LayerSpec,
    features,
    layer_spec,
    probe_graph,
    tile_of,
)
from mcumixq.perf.loops import NESTS_BY_TILE, loop_counts

PREDICTOR_FORMAT = "mcumixq.predictor"
MIN_CASES = 3
CASES_PER_COLUMN = 2.5
COUNTED_CASES_PER_COLUMN = 1.5
COUNTED_CORE = ("const", "steps", "out2", "out4", "out8")
# Smaller feature sets for groups with fewer cases: the main loop counts first.
FEATURE_TIERS: tuple[tuple[str, ...], ...] = (
    ("const", "pixels", "tiles", "steps", "extract", "out2", "out4", "out8", "words2", "words4",
     "words8", "tail2", "tail4", "tail8", "padded", "ctail", "read2", "read4", "read8"),
    ("const", "tiles", "steps", "extract", "outs", "in_words", "reads", "values"),
    ("const", "steps", "outs", "values"),
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelChoice:
    """The family, scheme and kernel name the registry picks for a spec, and the trip counts
    of that kernel's loops (`perf.loops`; empty for a family without a counter)."""

    family: str
    scheme: str
    kernel: str = ""
    loops: tuple[tuple[str, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family, "scheme": self.scheme, "kernel": self.kernel,
            "loops": dict(self.loops),
        }  # fmt: skip

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> KernelChoice:
        return cls(
            family=str(obj["family"]), scheme=str(obj["scheme"]), kernel=str(obj["kernel"]),
            loops=tuple((str(k), float(v)) for k, v in sorted(obj.get("loops", {}).items())),
        )  # fmt: skip

    def features(self, spec: LayerSpec) -> dict[str, float]:
        """The spec's cost features under this choice."""
        return features(spec, self.scheme, self.kernel, dict(self.loops))


def group_of(choice: KernelChoice, spec: LayerSpec) -> str:
    """Coarse fit group: kernel family and op kind, e.g. `slbc/conv2d`."""
    return f"{choice.family}/{spec.kind}"


def fine_group_of(choice: KernelChoice, spec: LayerSpec) -> str:
    """Fine fit group: family, kind and tile (one loop nest), e.g. `smlad2/conv2d/2x4`.

    A family renders different loop nests per tile (smlad2: the 2x1 first-layer kernel, the
    2x4 block kernel, the 1x4 one-pixel kernel), and a shared column such as `steps` costs
    differently in each. Families without a loop counter also split by whether input pixels
    are whole words (`w`) or not (`b`): their generic features cannot tell the two apart.
    """
    tp, tc = tile_of(choice.kernel)
    group = f"{choice.family}/{spec.kind}/{tp}x{tc}"
    if choice.loops:  # counted: only families whose tiles are different templates split
        return group if choice.family in NESTS_BY_TILE else group_of(choice, spec)
    bits = storage_bits(spec.a_bits) * spec.in_shape[-1]
    return f"{group}/{'w' if bits % 32 == 0 else 'b'}"


def groups_of(choice: KernelChoice, spec: LayerSpec) -> tuple[str, ...]:
    """Fit groups from the finest to the coarsest; prediction uses the first one fitted."""
    return tuple(dict.fromkeys((fine_group_of(choice, spec), group_of(choice, spec))))


@dataclass(frozen=True, slots=True, kw_only=True)
class FamilyFit:
    """Fitted cost coefficients (cycles per unit of each feature) of one fit group."""

    group: str
    columns: tuple[str, ...]
    coef: tuple[float, ...]
    n_cases: int
    train_mape: float

    def predict(self, feats: Mapping[str, float]) -> float:
        """Cycles for one feature dict (missing features count as 0)."""
        return float(
            sum(c * feats.get(name, 0.0) for name, c in zip(self.columns, self.coef, strict=True))
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "columns": list(self.columns),
            "coef": list(self.coef),
            "n_cases": self.n_cases,
            "train_mape": self.train_mape,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> FamilyFit:
        return cls(
            group=str(obj["group"]),
            columns=tuple(str(c) for c in obj["columns"]),
            coef=tuple(float(c) for c in obj["coef"]),
            n_cases=int(obj["n_cases"]),
            train_mape=float(obj["train_mape"]),
        )


def _columns(samples: Sequence[tuple[Mapping[str, float], float]], counted: bool) -> list[str]:
    """The feature columns a group's fit uses.

    Loop counts (`counted`) are all kept when the group has COUNTED_CASES_PER_COLUMN cases a
    column: each is a loop of the kernel, and dropping one would charge its cost to another.
    With fewer (a `--quick` calibration) they would fit noise, so the group keeps the work
    and output counts every counter has (COUNTED_CORE). Generic features take the richest
    tier the case count supports (CASES_PER_COLUMN each): a family with few calibration
    cases and twenty generic columns fits its own noise (0 % train, 300 % on a new layer).
    """
    present = {k for feats, _ in samples for k, v in feats.items() if v != 0.0}
    if counted:
        if len(samples) >= COUNTED_CASES_PER_COLUMN * len(present):
            return sorted(present)
        return sorted(present & set(COUNTED_CORE)) or sorted(present)
    for tier in (None, *FEATURE_TIERS):
        names = sorted(present if tier is None else present & set(tier))
        if names and len(samples) >= CASES_PER_COLUMN * len(names):
            return names
    return sorted(present & set(FEATURE_TIERS[-1])) or sorted(present)


def fit_group(
    group: str, samples: Sequence[tuple[Mapping[str, float], float]], *, counted: bool = False
) -> FamilyFit:
    """Fit non-negative coefficients minimising relative error over (features, cycles) samples
    (`counted`: the features are a family's loop counts, see `_columns`)."""
    if len(samples) < MIN_CASES:
        raise ConfigError(f"fit group {group}: {len(samples)} cases, need >= {MIN_CASES}")
    names = _columns(samples, counted)
    x = np.array([[feats.get(n, 0.0) for n in names] for feats, _ in samples], dtype=np.float64)
    y = np.array([cycles for _, cycles in samples], dtype=np.float64)
    if np.any(y <= 0):
        raise ConfigError(f"fit group {group}: a measured case has no cycles; check the bench")
    xw = x / y[:, None]
    norms = np.linalg.norm(xw, axis=0)
    norms[norms == 0] = 1.0
    coef, _ = nnls(xw / norms, np.ones_like(y), maxiter=50 * len(names) + 100)
    coef = coef / norms
    pred = x @ coef
    mape = float(np.mean(np.abs(pred - y) / y) * 100.0)
    return FamilyFit(
        group=group,
        columns=tuple(names),
        coef=tuple(float(c) for c in coef),
        n_cases=len(samples),
        train_mape=round(mape, 4),
    )


def choose_kernel(spec: LayerSpec, *, isa: str = "m4", graph: Graph | None = None) -> KernelChoice:
    """Render `spec`'s probe graph (or `graph`, whose op `op` has the spec) with the registry:
    the kernel codegen would emit for it, and that kernel's loop counts."""
    graph = graph if graph is not None else probe_graph(spec)
    op = graph.op(PROBE_OP)
    ranked = candidates(graph, op, isa=isa)
    if not ranked:
        raise ConfigError(f"{spec.key}: no kernel family supports this layer on isa={isa}")
    family = ranked[0][1]
    code = render_layer(graph, op, "mq_probe", isa=isa, prefer=family)  # supports() once more
    loops = loop_counts(graph, op, family) if isa == "m4" else {}
    return KernelChoice(
        family=family, scheme=code.scheme, kernel=code.kernel, loops=tuple(sorted(loops.items()))
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class GraphPrediction:
    """Predicted cycles of a whole graph: the total and each op's share by FQN."""

    cycles: float
    layers: dict[str, float]


@dataclass(slots=True)
class Predictor:
    """Cycle predictor: fitted groups plus a per-instance memo of kernel choices."""

    fits: dict[str, FamilyFit]
    key: str = ""
    isa: str = "m4"
    glue_per_op: float = 0.0
    glue_const: float = 0.0
    choices: dict[str, KernelChoice] = field(default_factory=dict)

    def choice(self, spec: LayerSpec) -> KernelChoice:
        """The kernel choice for `spec`, memoised per spec (output bits included: they change
        the store loops and, for smlad2, whether the requantization is fused)."""
        hit = self.choices.get(spec.key)
        if hit is None:
            hit = choose_kernel(spec, isa=self.isa)
            self.choices[spec.key] = hit
        return hit

    def fit_for(self, choice: KernelChoice, spec: LayerSpec) -> FamilyFit:
        """The finest fitted group of the choice (a family calibration never reached is priced
        like its kind's best-covered fit)."""
        fit = next((self.fits[g] for g in groups_of(choice, spec) if g in self.fits), None)
        if fit is None:
            same_kind = [f for g, f in self.fits.items() if g.endswith(f"/{spec.kind}")]
            fit = max(same_kind, key=lambda f: f.n_cases, default=None)
        if fit is None:
            known = ", ".join(sorted(self.fits)) or "none"
            raise ConfigError(
                f"{spec.key}: runs on {group_of(choice, spec)}, which the predictor was not "
                f"calibrated for (calibrated: {known}); rerun 'mcumixq calibrate'"
            )
        return fit

    def predict(self, spec: LayerSpec) -> float:
        """Predicted cycles of one call of the layer's kernel."""
        choice = self.choice(spec)
        return self.fit_for(choice, spec).predict(choice.features(spec))

    def predict_op(self, graph: Graph, op: Op) -> float:
        """Predicted cycles of one op of a graph."""
        return self.predict(layer_spec(graph, op))

    def predict_graph(self, graph: Graph) -> GraphPrediction:
        """Predicted cycles per inference of a whole graph (layers plus call glue)."""
        layers = {op.name: self.predict_op(graph, op) for op in graph.ops}
        total = sum(layers.values()) + self.glue_per_op * len(graph.ops) + self.glue_const
        return GraphPrediction(cycles=float(total), layers=layers)

    def table(
        self, spec: LayerSpec, pairs: Iterable[BitPair] = ALL_PAIRS, *, out_bits: int | None = None
    ) -> dict[BitPair, float]:
        """Cycles of `spec` at each pair (output bits `out_bits`, default: the pair's a)."""
        return {p: self.predict(spec.with_bits(p.w, p.a, out_bits or p.a)) for p in pairs}

    def to_json(self) -> dict[str, Any]:
        """Stable JSON form (fits and memoised choices)."""
        return {
            "format": PREDICTOR_FORMAT,
            "features_version": FEATURES_VERSION,
            "key": self.key,
            "isa": self.isa,
            "glue_per_op": self.glue_per_op,
            "glue_const": self.glue_const,
            "fits": {g: f.to_json() for g, f in sorted(self.fits.items())},
            "choices": {k: c.to_json() for k, c in sorted(self.choices.items())},
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], where: str = "predictor") -> Predictor:
        """Parse `to_json` output; anything else is an InputError."""
        try:
            if obj.get("format") != PREDICTOR_FORMAT:
                raise InputError(f"{where}: not an mcumixq predictor; run 'mcumixq calibrate'")
            fits = {g: FamilyFit.from_json(f) for g, f in obj["fits"].items()}
            choices = {k: KernelChoice.from_json(c) for k, c in obj.get("choices", {}).items()}
            return cls(
                fits=fits,
                key=str(obj.get("key", "")),
                isa=str(obj.get("isa", "m4")),
                glue_per_op=float(obj.get("glue_per_op", 0.0)),
                glue_const=float(obj.get("glue_const", 0.0)),
                choices=choices,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise InputError(
                f"{where}: malformed predictor ({err}); run 'mcumixq calibrate'"
            ) from err
