"""Save and load the integer graph as a versioned `.mqz` file (a zip of JSON and .npy arrays).

Layout (format "mcumixq.graph", format_version 1):
- `meta.json`: format, format_version, name, input, output, meta (free-form JSON), tensors
  (ordered list), ops (ordered list with attributes); every array is a reference
  {"member": "arrays/NNN.npy", "dtype": "int8", "shape": [...]} into the zip.
- `arrays/NNN.npy`: `np.save` output, loaded with `allow_pickle=False`. Never pickle: a model
  file must not be able to run code.

Saving is deterministic (fixed member order and timestamps), so the same graph gives the same
bytes. Loading trusts nothing: every zip, JSON, npy and semantic failure becomes one
`InputError` line naming the file, and the graph passes `validate_graph` before it is returned.
"""

from __future__ import annotations

import io
import json
import os
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from mcumixq.errors import ConfigError, InputError, MqError
from mcumixq.files import atomic_write
from mcumixq.ir.bounds import validate_graph
from mcumixq.ir.graph import Graph, Op, TensorSpec
from mcumixq.ir.mqz_schema import Reader

FORMAT = "mcumixq.graph"
FORMAT_VERSION = 1
META = "meta.json"
MAX_MEMBER_BYTES = 1 << 28  # 256 MiB: far above any MCU model, stops zip bombs
_DATE = (1980, 1, 1, 0, 0, 0)
_HINT = "create one with 'mcumixq export'"


class _Arrays:
    """Collects arrays while meta.json is built, naming members in order."""

    def __init__(self) -> None:
        self.members: list[tuple[str, np.ndarray]] = []

    def ref(self, arr: np.ndarray | None) -> dict[str, Any] | None:
        if arr is None:
            return None
        member = f"arrays/{len(self.members):03d}.npy"
        self.members.append((member, np.ascontiguousarray(arr)))
        return {"member": member, "dtype": arr.dtype.name, "shape": list(arr.shape)}


def _ints(values: tuple[int, ...]) -> list[int]:
    return [int(v) for v in values]  # numpy ints are valid in a Graph but not in JSON


def _op_json(op: Op, arrays: _Arrays) -> dict[str, Any]:
    rq = op.requant
    requant = None
    if rq is not None:
        requant = {
            "multiplier": arrays.ref(rq.multiplier), "shift": arrays.ref(rq.shift),
            "act_min": int(rq.act_min), "act_max": int(rq.act_max),
        }  # fmt: skip
    return {
        "name": op.name, "kind": op.kind, "inputs": list(op.inputs), "output": op.output,
        "weight": arrays.ref(op.weight), "bias": arrays.ref(op.bias), "requant": requant,
        "w_bits": None if op.w_bits is None else int(op.w_bits), "kernel": _ints(op.kernel),
        "stride": _ints(op.stride), "padding": _ints(op.padding), "groups": int(op.groups),
    }  # fmt: skip


def graph_to_json(graph: Graph) -> tuple[dict[str, Any], list[tuple[str, np.ndarray]]]:
    """The meta.json document and the (member, array) list of a graph."""
    arrays = _Arrays()
    tensors = [
        {"name": t.name, "shape": _ints(t.shape), "bits": int(t.bits), "scale": float(t.scale),
         "zero_point": int(t.zero_point)}
        for t in graph.tensors.values()
    ]  # fmt: skip
    doc = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": graph.name,
        "input": graph.input, "output": graph.output, "meta": graph.meta, "tensors": tensors,
        "ops": [_op_json(op, arrays) for op in graph.ops],
    }  # fmt: skip
    return doc, arrays.members


def _write_member(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def save_graph(graph: Graph, path: str | os.PathLike[str]) -> None:
    """Validate `graph` and write it atomically to `path` (.mqz); same graph, same bytes."""
    validate_graph(graph)
    doc, members = graph_to_json(graph)
    try:
        text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as err:
        raise ConfigError(f"graph {graph.name!r}: meta is not JSON-serializable ({err})") from None
    if json.loads(text)["meta"] != graph.meta:
        raise ConfigError(
            f"graph {graph.name!r}: meta would not load back unchanged (tuples or non-string "
            "keys); use lists and string keys"
        )
    with atomic_write(path, "wb") as fh, zipfile.ZipFile(fh, "w") as zf:
        _write_member(zf, META, text.encode())
        for member, arr in members:
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            _write_member(zf, member, buf.getvalue())


# Everything a corrupt zip, deflate stream or npy header can raise while being read.
_READ_ERRORS = (
    zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, IndexError,
    NotImplementedError, RuntimeError, UnicodeDecodeError, SyntaxError, TypeError, OverflowError,
    MemoryError, tokenize.TokenError,  # TokenError: numpy parses .npy headers as Python literals
)  # fmt: skip


def _read_member(zf: zipfile.ZipFile, name: str, fname: str) -> bytes:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise InputError(f"{fname}: member {name!r} is missing; re-export the graph") from None
    if info.file_size > MAX_MEMBER_BYTES:
        raise InputError(f"{fname}: member {name!r} claims {info.file_size} bytes; file is corrupt")
    try:
        with zf.open(info) as fh:
            data = fh.read(MAX_MEMBER_BYTES + 1)
    except _READ_ERRORS as err:
        raise InputError(
            f"{fname}: member {name!r} is corrupt ({type(err).__name__}: {err})"
        ) from None
    return data


def _load_array(zf: zipfile.ZipFile, ref: dict[str, Any], fname: str, where: str) -> np.ndarray:
    data = _read_member(zf, ref["member"], fname)
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except _READ_ERRORS as err:
        raise InputError(
            f"{fname}: {where} ({ref['member']}) is not a valid .npy array ({err})"
        ) from None
    if not isinstance(arr, np.ndarray) or arr.dtype != np.dtype(ref["dtype"]):
        got = getattr(arr, "dtype", type(arr).__name__)
        raise InputError(f"{fname}: {where} has dtype {got}, meta.json says {ref['dtype']}")
    if list(arr.shape) != ref["shape"]:
        raise InputError(
            f"{fname}: {where} has shape {list(arr.shape)}, meta.json says {ref['shape']}"
        )
    return np.ascontiguousarray(arr)


def _open_zip(raw: bytes, fname: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(raw))
    except _READ_ERRORS as err:
        raise InputError(
            f"{fname}: not an mcumixq graph (not a zip file: {err}); {_HINT}"
        ) from None


def _read_doc(zf: zipfile.ZipFile, fname: str) -> dict[str, Any]:
    if META not in zf.namelist():
        raise InputError(f"{fname}: not an mcumixq graph (no {META}); {_HINT}")
    data = _read_member(zf, META, fname)
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise InputError(
            f"{fname}: {META} is not valid JSON ({err}); re-export the graph"
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{fname}: not an mcumixq graph ({META} lacks format {FORMAT!r}); {_HINT}")
    version = doc.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:  # not 1.0, not true
        raise InputError(
            f"{fname}: format_version {version!r} is not supported (this mcumixq reads "
            f"{FORMAT_VERSION}); re-export the graph with this version"
        )
    return doc


def _graph_from_doc(doc: dict[str, Any], zf: zipfile.ZipFile, fname: str) -> Graph:
    r = Reader(fname, lambda ref, where: _load_array(zf, ref, fname, where))
    tensors: dict[str, TensorSpec] = {}
    for i, t in enumerate(r.items(doc, "tensors", "tensors")):
        spec = r.tensor(t, f"tensors[{i}]")
        if spec.name in tensors:
            raise InputError(f"{fname}: tensors[{i}]: name {spec.name!r} is defined twice")
        tensors[spec.name] = spec
    ops = tuple(r.op(o, f"ops[{i}]") for i, o in enumerate(r.items(doc, "ops", "ops")))
    meta = doc.get("meta", {})
    if not isinstance(meta, dict):
        raise InputError(f"{fname}: meta must be a JSON object, got {type(meta).__name__}")
    return Graph(
        name=r.string(doc, "name", "graph"), input=r.string(doc, "input", "graph"),
        output=r.string(doc, "output", "graph"), tensors=tensors, ops=ops, meta=meta,
    )  # fmt: skip


def load_graph(path: str | os.PathLike[str]) -> Graph:
    """Read and fully validate a .mqz file; any problem is one InputError naming the file."""
    p = Path(path)
    fname = p.name
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise InputError(
            f"{path}: cannot read graph ({err.strerror or err}); check the path"
        ) from None
    with _open_zip(raw, fname) as zf:
        doc = _read_doc(zf, fname)
        graph = _graph_from_doc(doc, zf, fname)
    try:
        validate_graph(graph)
    except MqError as err:
        raise InputError(f"{fname}: invalid graph: {err}") from None
    return graph
