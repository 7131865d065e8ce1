"""ir/mqz.py: lossless, deterministic round trip; every damaged file is one clean InputError."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcumixq.errors import ConfigError, InputError
from mcumixq.ir.bounds import validate_graph
from mcumixq.ir.graph import Graph
from mcumixq.ir.mqz import FORMAT, FORMAT_VERSION, load_graph, save_graph
from mcumixq.ir.random_graph import random_graph, tiny_cnn
from mcumixq.ir.reference import run_graph

from .mqz_mutations import MUTATORS, members, rezip

KINDS = ["conv2d", "maxpool", "avgpool", "add"]


def assert_graphs_equal(a: Graph, b: Graph) -> None:
    """Field-by-field equality, arrays compared by dtype and value."""
    assert (a.name, a.input, a.output, a.meta) == (b.name, b.input, b.output, b.meta)
    assert list(a.tensors.items()) == list(b.tensors.items())
    assert len(a.ops) == len(b.ops)
    for x, y in zip(a.ops, b.ops, strict=True):
        for f in (
            "name",
            "kind",
            "inputs",
            "output",
            "w_bits",
            "kernel",
            "stride",
            "padding",
            "groups",
        ):
            assert getattr(x, f) == getattr(y, f), (x.name, f)
        for f in ("weight", "bias"):
            u, v = getattr(x, f), getattr(y, f)
            assert (u is None) == (v is None)
            if u is not None:
                assert u.dtype == v.dtype and np.array_equal(u, v), (x.name, f)
        assert (x.requant is None) == (y.requant is None)
        if x.requant is not None:
            for f in ("multiplier", "shift"):
                u, v = getattr(x.requant, f), getattr(y.requant, f)
                assert u.dtype == v.dtype and np.array_equal(u, v), (x.name, f)
            assert (x.requant.act_min, x.requant.act_max) == (y.requant.act_min, y.requant.act_max)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4),
    linear=st.booleans(),
)
def test_round_trip_is_lossless_and_deterministic(
    tmp_path: Path, seed: int, kinds: list[str], linear: bool
) -> None:
    rng = np.random.default_rng(seed)
    graph = random_graph(
        rng, kinds=[*kinds, "linear"] if linear else kinds, input_shape=(6, 6, 3),
        w_bits=None, a_bits=None, in_zero_point=None,
    )  # fmt: skip
    graph = Graph(
        name=graph.name, input=graph.input, output=graph.output, tensors=graph.tensors,
        ops=graph.ops, meta={"seed": seed, "bits": {"a": [1, 2]}, "note": "ünïcode", "f": 0.1},
    )  # fmt: skip
    path = tmp_path / f"g{seed}.mqz"
    save_graph(graph, path)
    loaded = load_graph(path)
    assert_graphs_equal(graph, loaded)
    x = rng.integers(0, 2 ** graph.tensors[graph.input].bits, size=(3, 6, 6, 3))
    np.testing.assert_array_equal(run_graph(graph, x), run_graph(loaded, x))
    again = tmp_path / "again.mqz"
    save_graph(loaded, again)
    assert path.read_bytes() == again.read_bytes()


def test_file_layout(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "g.mqz"
    save_graph(tiny_cnn(rng), path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        doc = json.loads(zf.read("meta.json"))
    assert names[0] == "meta.json" and all(n.startswith("arrays/") for n in names[1:])
    assert (doc["format"], doc["format_version"]) == (FORMAT, FORMAT_VERSION)
    refs = [op["weight"] for op in doc["ops"] if op["weight"] is not None]
    assert {r["dtype"] for r in refs} == {"int8"}
    assert not any(b"pickle" in zipfile.ZipFile(path).read(n) for n in names)


def test_save_rejects_bad_graphs_and_leaves_no_file(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    g = tiny_cnn(rng)
    bad_meta = Graph(
        name=g.name, input=g.input, output=g.output, tensors=g.tensors, ops=g.ops,
        meta={"x": object()},
    )  # fmt: skip
    with pytest.raises(ConfigError, match="not JSON-serializable"):
        save_graph(bad_meta, tmp_path / "a.mqz")
    tuple_meta = dataclasses.replace(g, meta={"bits": (4, 4)})
    with pytest.raises(ConfigError, match="would not load back unchanged"):
        save_graph(tuple_meta, tmp_path / "c.mqz")
    bad_ops = Graph(name=g.name, input=g.input, output=g.output, tensors=g.tensors, ops=g.ops[1:])
    with pytest.raises(ConfigError):
        save_graph(bad_ops, tmp_path / "b.mqz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "cannot read graph"),
        (b"", "not a zip file"),
        (b"hello world", "not a zip file"),
        (
            rezip({"other.txt": b"x"}),
            r"not an mcumixq graph \(no meta.json\); create one with 'mcumixq export'",
        ),
        (rezip({"meta.json": b"{not json"}), "not valid JSON"),
        (rezip({"meta.json": b"[1, 2]"}), "lacks format"),
        (rezip({"meta.json": json.dumps({"format": FORMAT}).encode()}), "format_version None"),
        (
            rezip({"meta.json": json.dumps({"format": FORMAT, "format_version": 2}).encode()}),
            "format_version 2 is not supported",
        ),
        (
            rezip({"meta.json": json.dumps({"format": FORMAT, "format_version": 1}).encode()}),
            "tensors",
        ),
    ],
)
def test_named_failures(tmp_path: Path, content: bytes | None, match: str) -> None:
    path = tmp_path / "graph.mqz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        load_graph(path)
    assert "\n" not in str(info.value)


def test_directory_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read graph"):
        load_graph(tmp_path)


def test_semantic_violation_names_file_and_op(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "model.mqz"
    save_graph(tiny_cnn(rng), path)
    files = members(path.read_bytes())
    doc = json.loads(files["meta.json"])
    doc["ops"][0]["w_bits"] = 3  # 8-bit weights no longer fit
    files["meta.json"] = json.dumps(doc).encode()
    path.write_bytes(rezip(files))
    with pytest.raises(
        InputError, match=r"^model.mqz: invalid graph: op 'features.0' \(conv2d\): weight"
    ):
        load_graph(path)


@pytest.fixture(scope="module")
def valid_file(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("fuzz") / "g.mqz"
    save_graph(tiny_cnn(np.random.default_rng(7), 4, 4), path)
    return path.read_bytes()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(mutation=st.sampled_from(sorted(MUTATORS)), seed=st.integers(0, 2**32 - 1))
def test_damaged_files_raise_only_input_error(
    tmp_path: Path, valid_file: bytes, mutation: str, seed: int
) -> None:
    path = tmp_path / "fuzz.mqz"
    path.write_bytes(MUTATORS[mutation](valid_file, np.random.default_rng(seed)))
    try:
        graph = load_graph(path)
    except InputError as err:
        assert str(err).startswith("fuzz.mqz") and "\n" not in str(err)
        return
    validate_graph(graph)  # a mutation that kept the graph valid (e.g. a new name) is fine
