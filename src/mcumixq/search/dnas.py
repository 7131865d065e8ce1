"""Differentiable bit-width search (DESIGN §6): train a supernet, take the argmax, meet budgets.

Loss = cross-entropy + lam * E[cycles] / cycles(8/8) + a hinge on E[cycles] above the latency
budget, where E[cycles] sums each layer's predictor table weighted by its candidate
probabilities (`supernet.expected_cycles`). Weights (and quantizer steps) and architecture
logits train jointly on the same batches with separate optimizers (EdMIPS). Budgets are hard
limits on the discrete result: `repair` lowers bits greedily where the cycles saved per unit
of lost log-probability (the supernet's own confidence, our accuracy-loss proxy) is largest.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from mcumixq.errors import BudgetError, ConfigError
from mcumixq.numerics import LEGAL_BITS, BitPair
from mcumixq.quant import distributed
from mcumixq.search.cost import CostModel, ModelCost
from mcumixq.search.supernet import (
    arch_parameters,
    argmax_bits,
    build_supernet,
    expected_cycles,
    log_probs,
)

log = logging.getLogger(__name__)
BIT_PENALTY = 0.01
LogProbs = Mapping[str, Mapping[str, Mapping[int, float]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Budgets:
    """Hard limits on the deployed model; None = unconstrained."""

    latency_ms: float | None = None
    flash_bytes: int | None = None
    sram_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("latency_ms", "flash_bytes", "sram_bytes"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise ConfigError(f"budget {name}={v} must be > 0 (or omitted)")

    def violations(self, cost: ModelCost, clock_mhz: float) -> dict[str, float]:
        """Relative excess (figure / budget - 1) of every violated budget."""
        out = {}
        if self.latency_ms is not None and cost.latency_ms(clock_mhz) > self.latency_ms:
            out["latency_ms"] = cost.latency_ms(clock_mhz) / self.latency_ms - 1.0
        if self.flash_bytes is not None and cost.flash_bytes > self.flash_bytes:
            out["flash_bytes"] = cost.flash_bytes / self.flash_bytes - 1.0
        if self.sram_bytes is not None and cost.sram_bytes > self.sram_bytes:
            out["sram_bytes"] = cost.sram_bytes / self.sram_bytes - 1.0
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchConfig:
    """Search hyper-parameters, candidates, fixed layers and budgets."""

    w_bits: tuple[int, ...] = LEGAL_BITS
    a_bits: tuple[int, ...] = LEGAL_BITS
    epochs: int = 2
    lr: float = 0.02
    arch_lr: float = 0.05
    lam: float = 0.5
    budget_weight: float = 5.0
    budgets: Budgets = field(default_factory=Budgets)
    clock_mhz: float = 120.0
    fixed: Mapping[str, BitPair] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"search epochs={self.epochs} must be >= 1")
        if not self.lr > 0 or not self.arch_lr > 0:
            raise ConfigError(f"search lr={self.lr}, arch_lr={self.arch_lr} must be > 0")
        if self.lam < 0 or self.budget_weight < 0:
            raise ConfigError(f"lam={self.lam}, budget_weight={self.budget_weight} must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchResult:
    """The searched bit map, the raw argmax, the repair moves, the cost and the epoch log."""

    bits: dict[str, BitPair]
    argmax: dict[str, BitPair]
    moves: tuple[str, ...]
    cost: ModelCost
    log: tuple[dict[str, Any], ...]

    def bit_map_json(self) -> dict[str, str]:
        """The QuantConfig JSON form: {fqn: 'w4a4'}."""
        return {k: str(v) for k, v in sorted(self.bits.items())}

    def to_json(self, clock_mhz: float) -> dict[str, Any]:
        """Search log document."""
        return {
            "bits": self.bit_map_json(),
            "argmax": {k: str(v) for k, v in sorted(self.argmax.items())},
            "repair_moves": list(self.moves),
            "predicted_cycles": round(self.cost.cycles),
            "predicted_latency_ms": round(self.cost.latency_ms(clock_mhz), 4),
            "predicted_flash_bytes": self.cost.flash_bytes,
            "predicted_sram_bytes": self.cost.sram_bytes,
            "epochs": list(self.log),
        }


def _tables(mixed: Mapping[str, Any], cost_model: CostModel) -> dict[str, torch.Tensor]:
    out = {}
    for fqn, m in mixed.items():
        t = cost_model.layer_table(fqn, m.bits, m.input_quant.bits)
        out[fqn] = torch.tensor(t, dtype=torch.float32)
    return out


def _epoch(
    net: nn.Module,
    mixed: Mapping[str, Any],
    loader: Iterable,
    opts: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    tables: Mapping[str, torch.Tensor],
    ref: float,
    budget: float | None,
    config: SearchConfig,
) -> dict[str, float]:
    loss_sum = correct = seen = 0.0
    exp = torch.zeros(())
    for x, y in loader:
        out = net(x)
        exp = expected_cycles(mixed, tables)
        loss = F.cross_entropy(out, y) + config.lam * exp / ref
        if budget is not None:
            loss = loss + config.budget_weight * F.relu(exp / budget - 1.0)
        for opt in opts:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        for opt in opts:
            opt.step()
        loss_sum += float(loss.detach()) * len(y)
        correct += float((out.argmax(dim=1) == y).sum())
        seen += len(y)
    return {
        "loss": loss_sum / max(seen, 1),
        "train_accuracy": correct / max(seen, 1),
        "expected_cycles": float(exp.detach()),
    }


def search_bits(
    gm: fx.GraphModule, loader: Iterable, cost_model: CostModel, config: SearchConfig
) -> SearchResult:
    """Search per-layer bits on a prepared QAT model `gm` (modified in place into a supernet).

    An unmeetable budget fails before any training (BudgetError with the best figure).
    """
    _check_reachable(cost_model, config, config.budgets)
    mixed = build_supernet(gm, config.w_bits, config.a_bits, fixed=config.fixed)
    arch = arch_parameters(mixed)
    arch_ids = {id(p) for p in arch}
    weights = [p for p in gm.parameters() if id(p) not in arch_ids and p.requires_grad]
    opt_w = torch.optim.SGD(weights, lr=config.lr, momentum=0.9)
    opt_a = torch.optim.Adam(arch, lr=config.arch_lr)
    tables = _tables(mixed, cost_model)
    ref = float(sum(float(t.max()) for t in tables.values()))
    budget = None
    if config.budgets.latency_ms is not None:
        budget = config.budgets.latency_ms * config.clock_mhz * 1e3
    net = distributed.wrap(gm)
    history = []
    gm.train()
    for epoch in range(1, config.epochs + 1):
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        start = time.perf_counter()
        stats = _epoch(net, mixed, loader, (opt_w, opt_a), tables, ref, budget, config)
        bits = argmax_bits(mixed)
        stats.update(
            epoch=epoch,
            seconds=round(time.perf_counter() - start, 2),
            bits={k: str(v) for k, v in bits.items()},
        )
        log.info(
            "search epoch %d: loss %.4f acc %.4f E[cycles] %.0f",
            epoch, stats["loss"], stats["train_accuracy"], stats["expected_cycles"],
        )  # fmt: skip
        history.append(stats)
    chosen = argmax_bits(mixed)
    bits, moves = repair(
        chosen, cost_model, config.budgets, log_probs(mixed), config.clock_mhz, config
    )
    cost = cost_model.cost(bits, with_flash=config.budgets.flash_bytes is not None)
    return SearchResult(bits=bits, argmax=chosen, moves=tuple(moves), cost=cost, log=tuple(history))


def _lower(values: tuple[int, ...], current: int) -> list[int]:
    """Every candidate below `current`: one step may not change the kernel's container."""
    return [v for v in values if v < current]


def lowest_bits(cost_model: CostModel, config: SearchConfig) -> dict[str, BitPair]:
    """The cheapest map the candidates allow (fixed layers stay fixed)."""
    low = BitPair(min(config.w_bits), min(config.a_bits))
    out = {fqn: config.fixed.get(fqn, low) for fqn in cost_model.weighted}
    return _unify(out, cost_model, config)


def _unify(
    bits: dict[str, BitPair], cost_model: CostModel, config: SearchConfig
) -> dict[str, BitPair]:
    """Give every reader of one tensor the bits its first reader (or a fixed one) has."""
    out = dict(bits)
    for readers in cost_model.act_groups().values():
        pinned = [r for r in readers if r in config.fixed]
        a = config.fixed[pinned[0]].a if pinned else out[readers[0]].a
        for r in readers:
            out[r] = BitPair(out[r].w, a)
    return out


def _moves(
    bits: Mapping[str, BitPair], cost_model: CostModel, config: SearchConfig
) -> list[tuple[str, dict[str, BitPair]]]:
    out = []
    for fqn in cost_model.weighted:
        if fqn in config.fixed:
            continue
        for w in _lower(config.w_bits, bits[fqn].w):
            out.append((f"{fqn} w{bits[fqn].w}->w{w}", {**bits, fqn: BitPair(w, bits[fqn].a)}))
    for readers in cost_model.act_groups().values():
        if any(r in config.fixed for r in readers):
            continue
        a0 = bits[readers[0]].a
        for a in _lower(config.a_bits, a0):
            new = {**bits, **{r: BitPair(bits[r].w, a) for r in readers}}
            out.append((f"{readers[0]} a{a0}->a{a}", new))
    return out


def _proxy_loss(old: Mapping[str, BitPair], new: Mapping[str, BitPair], logp: LogProbs) -> float:
    """Lost log-probability of the supernet's choice (>= 0): the accuracy-loss proxy.

    Each dropped bit adds BIT_PENALTY, so among equal gains the smaller step wins.
    """
    loss = 0.0
    for fqn, pair in new.items():
        lp = logp.get(fqn)
        if lp is None or pair == old[fqn]:
            continue
        for part, before, after in (("w", old[fqn].w, pair.w), ("a", old[fqn].a, pair.a)):
            if before != after and before in lp[part] and after in lp[part]:
                loss += max(lp[part][before] - lp[part][after], 0.0)
    dropped = sum(old[f].w - new[f].w + old[f].a - new[f].a for f in new if f in old)
    return loss + BIT_PENALTY * dropped


def _check_reachable(cost_model: CostModel, config: SearchConfig, budgets: Budgets) -> None:
    low = lowest_bits(cost_model, config)
    cost = cost_model.cost(low, with_flash=budgets.flash_bytes is not None)
    bad = budgets.violations(cost, config.clock_mhz)
    if not bad:
        return
    name = sorted(bad)[0]
    figure = {
        "latency_ms": f"{cost.latency_ms(config.clock_mhz):.3f} ms ({cost.cycles:.0f} cycles "
        f"at {config.clock_mhz:g} MHz)",
        "flash_bytes": f"{cost.flash_bytes} bytes",
        "sram_bytes": f"{cost.sram_bytes} bytes",
    }[name]
    raise BudgetError(
        f"{name} budget {getattr(budgets, name)} cannot be met: the lowest bits allowed give "
        f"{figure}; raise the budget to at least that or allow lower bits / unfix layers"
    )


def repair(
    bits: Mapping[str, BitPair],
    cost_model: CostModel,
    budgets: Budgets,
    logp: LogProbs,
    clock_mhz: float,
    config: SearchConfig,
) -> tuple[dict[str, BitPair], list[str]]:
    """Lower bits greedily until every budget holds; BudgetError if none can be met."""
    current = _unify(dict(bits), cost_model, config)
    flash = budgets.flash_bytes is not None
    cost = cost_model.cost(current, with_flash=flash)
    if not budgets.violations(cost, clock_mhz):
        return current, []
    _check_reachable(cost_model, config, budgets)
    moves: list[str] = []
    while bad := budgets.violations(cost, clock_mhz):
        best: tuple[float, str, dict[str, BitPair], ModelCost] | None = None
        for desc, cand in _moves(current, cost_model, config):
            c = cost_model.cost(cand, with_flash=flash)
            after = budgets.violations(c, clock_mhz)
            gain = sum(bad.values()) - sum(after.values())
            if gain <= 0:
                continue
            score = gain / (_proxy_loss(current, cand, logp) + 1e-6)
            if best is None or score > best[0]:
                best = (score, desc, cand, c)
        if best is None:
            _check_reachable(cost_model, config, budgets)
            raise BudgetError(f"budgets {sorted(bad)} cannot be met by lowering bits further")
        _, desc, current, cost = best
        moves.append(desc)
        log.info("repair: %s", desc)
    return current, moves
