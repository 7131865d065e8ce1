"""Hardware cost of a bit map: predicted cycles, flash and peak SRAM of the deployed graph.

The search never re-exports a model to price a candidate: it takes one exported reference
graph (any bits; only its structure is used) and re-derives every tensor's bits from a bit map
with the rule `quant.prepare_qat` follows: a tensor has the a_bits of the first conv/linear
reading it (looking through max pooling, which keeps its input's bits), 8 bits if none reads it.
Cycles come from the perf predictor. Flash and SRAM are estimates for budget checks (the deploy
measures the real figures): flash = constant data of each layer's kernel (rendered once per
layer and bits, memoised) + a per-layer code allowance; SRAM = the largest sum of a layer's
packed input and output tensors + a stack allowance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mcumixq.errors import ConfigError
from mcumixq.ir.graph import WEIGHTED_KINDS, Graph
from mcumixq.kernels.registry import render_layer
from mcumixq.numerics import BitPair
from mcumixq.packing.layout import tensor_bytes
from mcumixq.perf.features import PROBE_OP, LayerSpec, layer_spec, probe_graph
from mcumixq.perf.predictor import Predictor

CODE_BYTES_PER_LAYER = 1536  # typical size of one specialised layer function (estimate)
CODE_BYTES_BASE = 4096  # startup, requant helpers, model glue (estimate)
STACK_BYTES = 4096  # codegen's STACK_RESERVE_BYTES


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCost:
    """Predicted cost of one bit map."""

    cycles: float
    flash_bytes: int
    sram_bytes: int
    layers: dict[str, float]

    def latency_ms(self, clock_mhz: float) -> float:
        """Predicted latency at `clock_mhz`."""
        return self.cycles / (clock_mhz * 1e3)


@dataclass(slots=True)
class CostModel:
    """Prices bit maps of one model structure (`graph`) with a predictor."""

    graph: Graph
    predictor: Predictor
    const_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def weighted(self) -> tuple[str, ...]:
        """FQNs of the conv/linear ops, in graph order."""
        return tuple(op.name for op in self.graph.ops if op.kind in WEIGHTED_KINDS)

    def tensor_bits(self, bits: Mapping[str, BitPair]) -> dict[str, int]:
        """Bits of every tensor under a bit map (the prepare_qat rule)."""
        self._check(bits)
        same = self._roots()
        out = {root: bits[readers[0]].a for root, readers in self.act_groups().items()}
        return {t: out.get(same[t], 8) for t in self.graph.tensors}

    def _roots(self) -> dict[str, str]:
        """Tensor -> the tensor whose quantizer it shares (max pooling passes bits through)."""
        same: dict[str, str] = {t: t for t in self.graph.tensors}
        for op in self.graph.ops:
            if op.kind == "maxpool":
                same[op.output] = same[op.inputs[0]]
        return same

    def _check(self, bits: Mapping[str, BitPair]) -> None:
        missing = sorted(set(self.weighted) - set(bits))
        if missing:
            raise ConfigError(f"bit map lacks layer(s) {', '.join(missing)}")

    def specs(self, bits: Mapping[str, BitPair]) -> dict[str, LayerSpec]:
        """LayerSpec of every op under a bit map."""
        tb = self.tensor_bits(bits)
        out = {}
        for op in self.graph.ops:
            base = layer_spec(self.graph, op)
            w = bits[op.name].w if op.kind in WEIGHTED_KINDS else 8
            out[op.name] = LayerSpec(
                kind=base.kind, in_shape=base.in_shape, out_shape=base.out_shape,
                kernel=base.kernel, stride=base.stride, padding=base.padding,
                w_bits=w, a_bits=tb[op.inputs[0]], out_bits=tb[op.output],
            )  # fmt: skip
        return out

    def cycles(self, bits: Mapping[str, BitPair]) -> tuple[float, dict[str, float]]:
        """Predicted total cycles and per-op cycles."""
        layers = {name: self.predictor.predict(s) for name, s in self.specs(bits).items()}
        p = self.predictor
        total = sum(layers.values()) + p.glue_per_op * len(layers) + p.glue_const
        return float(total), layers

    def _const(self, spec: LayerSpec) -> int:
        hit = self.const_bytes.get(spec.key)
        if hit is None:
            g = probe_graph(spec, calib=2)
            hit = render_layer(g, g.op(PROBE_OP), "mq_probe", isa=self.predictor.isa).const_bytes
            self.const_bytes[spec.key] = hit
        return hit

    def flash_bytes(self, bits: Mapping[str, BitPair]) -> int:
        """Estimated flash: kernels' constant data + code allowances."""
        specs = self.specs(bits)
        data = sum(self._const(s) for s in specs.values())
        return int(data + CODE_BYTES_BASE + CODE_BYTES_PER_LAYER * len(specs))

    def sram_bytes(self, bits: Mapping[str, BitPair]) -> int:
        """Estimated peak SRAM: the largest live input+output pair plus the stack."""
        tb = self.tensor_bits(bits)
        peak = 0
        for op in self.graph.ops:
            names = (*op.inputs, op.output)
            live = sum(tensor_bytes(self.graph.tensors[n].shape, tb[n]) for n in names)
            peak = max(peak, live)
        return int(peak + STACK_BYTES)

    def cost(self, bits: Mapping[str, BitPair], *, with_flash: bool = True) -> ModelCost:
        """Cycles, flash (optional: it renders kernels) and SRAM of a bit map."""
        total, layers = self.cycles(bits)
        flash = self.flash_bytes(bits) if with_flash else 0
        return ModelCost(
            cycles=total, flash_bytes=flash, sram_bytes=self.sram_bytes(bits), layers=layers
        )

    def act_groups(self) -> dict[str, tuple[str, ...]]:
        """Weighted readers of each tensor (through max pooling), first reader first."""
        same = self._roots()
        groups: dict[str, list[str]] = {}
        for op in self.graph.ops:
            if op.kind in WEIGHTED_KINDS:
                groups.setdefault(same[op.inputs[0]], []).append(op.name)
        return {k: tuple(v) for k, v in groups.items()}

    def layer_table(self, name: str, w_bits: Sequence[int], a_bits: Sequence[int]) -> np.ndarray:
        """Cycles[i, j] of layer `name` at (w_bits[i], a_bits[j]), output bits = a_bits[j].

        The search's differentiable cost: the layer's own kernel at each candidate pair (its
        output container is taken at the same width; the exact output bits are priced in the
        discrete check).
        """
        base = layer_spec(self.graph, self.graph.op(name))
        t = np.zeros((len(w_bits), len(a_bits)))
        for i, w in enumerate(w_bits):
            for j, a in enumerate(a_bits):
                t[i, j] = self.predictor.predict(base.with_bits(w, a, a))
        return t
