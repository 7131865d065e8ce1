"""Build report.json (DESIGN §7): accuracy, measured cycles/memory, baseline, predictor figure.

The report is assembled from plain dicts (a deploy's `DeployResult.to_json()`), so this module
depends on no producer; `check_report` applies the same field rules as
shared/contracts/check.py so a malformed report fails where it is made, not in CI.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcumixq.errors import VerificationError

REPORT_SCHEMA = "mcumixq.report/1"
CMSIS_NN_TINYVGG_CYCLES = 19_360_000  # DESIGN §8: CMSIS-NN s8 on TinyVGG w0.25, same ruler
LAYER_KEYS = ("name", "op", "w_bits", "a_bits", "macs", "cycles", "kernel")
EXTRA_LAYER_KEYS = ("mac_per_cycle", "scheme", "weight_bytes")


def _layers(deploy: Mapping[str, Any], predicted: Mapping[str, float]) -> list[dict[str, Any]]:
    out = []
    for row in deploy["layers"]:
        layer = {k: row[k] for k in LAYER_KEYS}
        layer.update({k: row[k] for k in EXTRA_LAYER_KEYS if k in row})
        if row["name"] in predicted:
            layer["predicted_cycles"] = round(predicted[row["name"]])
        out.append(layer)
    return out


def build_report(
    *,
    dataset: str,
    accuracy: Mapping[str, float],
    mixed: Mapping[str, Any],
    baseline: Mapping[str, Any],
    predicted_cycles: float,
    predicted_layers: Mapping[str, float],
    bits: Mapping[str, str],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report.json document; `mixed`/`baseline` are DeployResult.to_json() dicts."""
    cycles = int(mixed["cycles"])
    base = int(baseline["cycles"])
    doc: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "dataset": dataset,
        "accuracy": {k: round(float(accuracy[k]), 6) for k in ("float", "int8", "mixed")},
        "emulated_bit_exact": bool(mixed["bit_exact"]) and bool(baseline["bit_exact"]),
        "cycles": cycles,
        "latency_ms": float(mixed["latency_ms"]),
        "clock_mhz": float(mixed["clock_mhz"]),
        "board": str(mixed["board"]),
        "flash_bytes": int(mixed["flash_bytes"]),
        "sram_bytes": int(mixed["sram_bytes"]),
        "baseline_int8": {
            "cycles": base,
            "flash_bytes": int(baseline["flash_bytes"]),
            "sram_bytes": int(baseline["sram_bytes"]),
            "latency_ms": float(baseline["latency_ms"]),
            "elf": str(baseline["elf"]),
            "layers": _layers(baseline, {}),
        },
        "predicted_cycles": round(float(predicted_cycles)),
        "predicted_error_pct": round(100.0 * (predicted_cycles - cycles) / max(cycles, 1), 3),
        "speedup_vs_int8": round(base / max(cycles, 1), 4),
        "speedup_vs_cmsis_nn": round(CMSIS_NN_TINYVGG_CYCLES / max(cycles, 1), 4),
        "bits": dict(sorted(bits.items())),
        "layers": _layers(mixed, predicted_layers),
        "elf": str(mixed["elf"]),
        "selftest_samples": int(mixed["selftest_samples"]),
    }
    doc.update(extra or {})
    check_report(doc)
    return doc


_TYPES: dict[str, type | tuple[type, ...]] = {
    "dataset": str, "accuracy": dict, "emulated_bit_exact": bool, "cycles": int,
    "latency_ms": (int, float), "clock_mhz": (int, float), "flash_bytes": int,
    "sram_bytes": int, "baseline_int8": dict, "predicted_cycles": (int, float), "layers": list,
    "elf": str, "selftest_samples": int,
}  # fmt: skip


def check_report(doc: Mapping[str, Any]) -> None:
    """Raise VerificationError naming the first field that breaks the DESIGN §7 contract."""
    for key, typ in _TYPES.items():
        value = doc.get(key)
        if (
            value is None
            or not isinstance(value, typ)
            or (isinstance(value, bool) and typ is not bool)
        ):
            names = " or ".join(t.__name__ for t in (typ if isinstance(typ, tuple) else (typ,)))
            raise VerificationError(f"report.json: field {key!r} is {value!r}, expected {names}")
    for k in ("float", "int8", "mixed"):
        if not isinstance(doc["accuracy"].get(k), (int, float)):
            raise VerificationError(f"report.json: accuracy.{k} missing; report all three")
    for k in ("cycles", "flash_bytes", "sram_bytes"):
        if not isinstance(doc["baseline_int8"].get(k), int):
            raise VerificationError(f"report.json: baseline_int8.{k} missing or not an int")
    for i, layer in enumerate(doc["layers"]):
        for k in LAYER_KEYS:
            if k not in layer:
                raise VerificationError(f"report.json: layers[{i}] lacks {k!r}")
