"""Typed, schema-checked reading of a .mqz `meta.json` into TensorSpec / Op objects.

JSON from a file is untrusted: every field is checked for presence and type here (bools are
not ints, floats must be finite) and every failure is one InputError naming the file and the
JSON path (`ops[3].kernel`). Value ranges and cross-references are left to `validate_graph`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from mcumixq.errors import InputError
from mcumixq.ir.graph import OP_KINDS, Op, Requant, TensorSpec

ArrayLoader = Callable[[dict[str, Any], str], np.ndarray]
_DTYPES = {"weight": "int8", "bias": "int32", "multiplier": "int32", "shift": "int32"}
_MAX_DIM = 1 << 24


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class Reader:
    """Reads fields of one file's meta.json, loading referenced arrays through `load_array`."""

    def __init__(self, fname: str, load_array: ArrayLoader) -> None:
        self.fname = fname
        self.load_array = load_array

    def fail(self, where: str, problem: str) -> InputError:
        """An InputError for a field of this file."""
        return InputError(f"{self.fname}: {where}: {problem}; re-export the graph")

    def get(self, obj: object, key: str, where: str) -> Any:
        """obj[key], or an InputError if obj is not an object or lacks the key."""
        if not isinstance(obj, dict):
            raise self.fail(where, f"expected a JSON object, got {type(obj).__name__}")
        if key not in obj:
            raise self.fail(f"{where}.{key}", "is missing")
        return obj[key]

    def items(self, obj: object, key: str, where: str) -> list[Any]:
        """A JSON list field."""
        v = self.get(obj, key, where)
        if not isinstance(v, list):
            raise self.fail(where, f"expected a list, got {type(v).__name__}")
        return v

    def string(self, obj: object, key: str, where: str) -> str:
        """A non-empty string field."""
        v = self.get(obj, key, where)
        if not isinstance(v, str) or not v:
            raise self.fail(f"{where}.{key}", f"expected a non-empty string, got {v!r:.60}")
        return v

    def integer(self, obj: object, key: str, where: str) -> int:
        """An integer field (JSON true/false are not integers)."""
        v = self.get(obj, key, where)
        if not _is_int(v):
            raise self.fail(f"{where}.{key}", f"expected an integer, got {v!r:.60}")
        return int(v)

    def ints(self, obj: object, key: str, where: str, n: int | None = None) -> tuple[int, ...]:
        """A list of integers (of length n if given), each of magnitude below 2^24."""
        v = self.get(obj, key, where)
        if not isinstance(v, list) or not all(_is_int(e) and abs(e) < _MAX_DIM for e in v):
            raise self.fail(f"{where}.{key}", f"expected a list of small integers, got {v!r:.60}")
        if n is not None and len(v) != n:
            raise self.fail(f"{where}.{key}", f"expected {n} integers, got {len(v)}")
        return tuple(int(e) for e in v)

    def array(self, obj: object, key: str, where: str) -> np.ndarray | None:
        """A referenced array (None if the field is null), dtype fixed by the field's name."""
        ref = self.get(obj, key, where)
        if ref is None:
            return None
        path = f"{where}.{key}"
        member = self.get(ref, "member", path)
        if not isinstance(member, str) or not member.startswith("arrays/"):
            raise self.fail(f"{path}.member", f"{member!r:.60} is not an arrays/ member")
        if self.get(ref, "dtype", path) != _DTYPES[key]:
            raise self.fail(f"{path}.dtype", f"{ref['dtype']!r:.30} must be {_DTYPES[key]}")
        self.ints(ref, "shape", path)
        return self.load_array(ref, path)

    def tensor(self, t: object, where: str) -> TensorSpec:
        """One entry of `tensors`."""
        scale = self.get(t, "scale", where)
        if (
            isinstance(scale, bool)
            or not isinstance(scale, (int, float))
            or not math.isfinite(scale)
        ):
            raise self.fail(f"{where}.scale", f"expected a finite number, got {scale!r:.60}")
        return TensorSpec(
            name=self.string(t, "name", where), shape=self.ints(t, "shape", where),
            bits=self.integer(t, "bits", where), scale=float(scale),
            zero_point=self.integer(t, "zero_point", where),
        )  # fmt: skip

    def _requant(self, o: object, where: str) -> Requant | None:
        rq = self.get(o, "requant", where)
        if rq is None:
            return None
        path = f"{where}.requant"
        m, s = self.array(rq, "multiplier", path), self.array(rq, "shift", path)
        if m is None or s is None:
            raise self.fail(path, "multiplier and shift are required")
        return Requant(
            multiplier=m, shift=s, act_min=self.integer(rq, "act_min", path),
            act_max=self.integer(rq, "act_max", path),
        )  # fmt: skip

    def op(self, o: object, where: str) -> Op:
        """One entry of `ops`."""
        kind = self.string(o, "kind", where)
        if kind not in OP_KINDS:
            raise self.fail(f"{where}.kind", f"{kind!r:.40} is not one of {', '.join(OP_KINDS)}")
        inputs = self.get(o, "inputs", where)
        if not isinstance(inputs, list) or not all(isinstance(n, str) for n in inputs):
            raise self.fail(f"{where}.inputs", "expected a list of tensor names")
        w_bits = self.get(o, "w_bits", where)
        if w_bits is not None and not _is_int(w_bits):
            raise self.fail(f"{where}.w_bits", f"expected an integer or null, got {w_bits!r:.40}")
        return Op(
            name=self.string(o, "name", where), kind=kind, inputs=tuple(inputs),
            output=self.string(o, "output", where), weight=self.array(o, "weight", where),
            bias=self.array(o, "bias", where), requant=self._requant(o, where), w_bits=w_bits,
            kernel=self.ints(o, "kernel", where, 2),  # type: ignore[arg-type]
            stride=self.ints(o, "stride", where, 2),  # type: ignore[arg-type]
            padding=self.ints(o, "padding", where, 4),  # type: ignore[arg-type]
            groups=self.integer(o, "groups", where),
        )  # fmt: skip
