"""Ways to damage a valid .mqz file, shared by tests/ir/test_mqz.py and benchmarks/fuzz_mqz.py.

Each mutator takes the valid file's bytes and an RNG and returns new bytes; `load_graph` must
either load a graph that passes validation or raise InputError, never anything else.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

Mutator = Callable[[bytes, np.random.Generator], bytes]
DELETE = object()
GARBAGE: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 2, 9, 63, 255, 256, 2**30 - 1, 2**31, 2**63, -(2**31) - 1,
    0.5, -1.5, 1e308, "", "x", "conv2d", "arrays/000.npy", [], [1], [1, 2], [-1, -1, -1, -1],
    {}, {"member": "arrays/999.npy", "dtype": "int8", "shape": [1]},
)  # fmt: skip


def members(data: bytes) -> dict[str, bytes]:
    """All members of a valid zip, in order."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def rezip(files: dict[str, bytes]) -> bytes:
    """A fresh, well-formed zip of `files` (so only the content is wrong)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in files.items():
            zf.writestr(name, blob)
    return buf.getvalue()


def truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(0, len(data)))]


def flip_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.integers(0, len(out)))
        out[i] ^= int(rng.integers(1, 256))
    return bytes(out)


def random_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    prefix = b"PK\x03\x04" if rng.random() < 0.5 else b""
    return prefix + rng.bytes(int(rng.integers(0, 2000)))


def _edit_doc(data: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    files = members(data)
    doc = json.loads(files["meta.json"])
    edit(doc)
    files["meta.json"] = json.dumps(doc).encode()
    return rezip(files)


def wrong_version(data: bytes, rng: np.random.Generator) -> bytes:
    choice = int(rng.integers(0, 8))
    values = [0, 2, "1", None, True, 1.0, 999]

    def edit(doc: dict[str, Any]) -> None:
        if choice == 7:
            del doc["format_version"]
        else:
            doc["format_version"] = values[choice]

    return _edit_doc(data, edit)


def wrong_format(data: bytes, rng: np.random.Generator) -> bytes:
    def edit(doc: dict[str, Any]) -> None:
        doc["format"] = str(rng.choice(["mcumixq.model", "", "tflite"]))

    return _edit_doc(data, edit)


def missing_member(data: bytes, rng: np.random.Generator) -> bytes:
    files = members(data)
    names = list(files)
    del files[names[int(rng.integers(0, len(names)))]]
    return rezip(files)


def json_paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key/index path into a JSON document (depth-first)."""
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += json_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += json_paths(v, (*prefix, i))
    return out


def set_field(data: bytes, path: tuple, value: Any) -> bytes | None:
    """meta.json with the field at `path` set to `value` (deleted if value is DELETE); None if
    the path's parent is a list and deletion was asked."""
    files = members(data)
    doc = json.loads(files["meta.json"])
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if value is DELETE:
        if not isinstance(parent, dict):
            return None
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    files["meta.json"] = json.dumps(doc).encode()
    return rezip(files)


def json_field(data: bytes, rng: np.random.Generator) -> bytes:
    """Replace or delete one random field anywhere in meta.json (out-of-range, wrong type)."""

    def edit(doc: dict[str, Any]) -> None:
        paths = json_paths(doc)
        path = paths[int(rng.integers(0, len(paths)))]
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and rng.random() < 0.2:
            del parent[path[-1]]
        else:
            parent[path[-1]] = GARBAGE[int(rng.integers(0, len(GARBAGE)))]

    return _edit_doc(data, edit)


def _array_members(files: dict[str, bytes]) -> list[str]:
    return [n for n in files if n.startswith("arrays/")]


def array_content(data: bytes, rng: np.random.Generator) -> bytes:
    """Swap one array for one of another dtype, shape or with out-of-range values."""
    files = members(data)
    names = _array_members(files)
    name = names[int(rng.integers(0, len(names)))]
    arr = np.load(io.BytesIO(files[name]))
    kind = int(rng.integers(0, 6))
    if kind == 0:
        new = arr.astype(rng.choice([np.float32, np.int64, np.uint8, np.int16]))
    elif kind == 1:
        new = arr.reshape(-1)[:-1] if arr.size > 1 else np.zeros((2, 2), arr.dtype)
    elif kind == 2:
        info = np.iinfo(arr.dtype)
        new = arr.copy()
        new.reshape(-1)[int(rng.integers(0, new.size))] = rng.choice([info.min, info.max, 0])
    elif kind == 3:
        new = arr.astype(arr.dtype.newbyteorder(">"))
    elif kind == 4:
        new = np.array([{"a": 1}], dtype=object)
    else:
        new = np.asfortranarray(arr.reshape(arr.shape[::-1]) if arr.ndim > 1 else arr)
    buf = io.BytesIO()
    np.save(buf, new, allow_pickle=True)
    files[name] = buf.getvalue()
    return rezip(files)


def npy_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    """Flip bytes inside one .npy member but rebuild a valid zip (bypasses the CRC check)."""
    files = members(data)
    names = [*_array_members(files), "meta.json"]
    name = names[int(rng.integers(0, len(names)))]
    files[name] = flip_bytes(files[name], rng) if rng.random() < 0.7 else truncate(files[name], rng)
    return rezip(files)


MUTATORS: dict[str, Mutator] = {
    "truncate": truncate,
    "flip_bytes": flip_bytes,
    "random_bytes": random_bytes,
    "wrong_version": wrong_version,
    "wrong_format": wrong_format,
    "missing_member": missing_member,
    "json_field": json_field,
    "array_content": array_content,
    "npy_bytes": npy_bytes,
}
