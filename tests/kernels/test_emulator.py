"""The kernels on the emulated Cortex-M4: bit-exact one-layer self-tests, warning-free builds.

The host tests run the C fallbacks; here the DSP intrinsics and the inline-asm SMLAD core run in
unicorn (via codegen.bench, the same path as `mcumixq bench kernels`). Every rendered source must
also compile cleanly with arm-none-eabi-gcc -Wall -Wextra -Werror -Wshadow.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mcumixq.codegen.bench import bench_case
from mcumixq.ir.graph import Graph
from mcumixq.ir.random_graph import single_op_graph
from mcumixq.kernels.registry import INCLUDE_DIR, KERNELS_DIR, render_layer
from mcumixq.numerics import BitPair
from mcumixq.target.toolchain import ZIG_TARGET

from .conftest import conv_graph
from .test_smlad import clamped_graph

ARM_CC = "arm-none-eabi-gcc"
ARM_FLAGS = (
    "-std=c99",
    "-O3",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wshadow",
)

SMLAD_CASES = [
    # (shape, cout, kernel, stride, pair, zero point)
    ((6, 5, 8), 8, 3, 1, "w8a8", 0),
    ((6, 5, 8), 6, 3, 1, "w4a8", 9),
    ((5, 6, 8), 8, 3, 2, "w8a4", 2),
    ((4, 4, 16), 8, 1, 1, "w2a2", 1),
    ((5, 5, 8), 5, 3, 1, "w3a5", 4),
    ((6, 6, 1), 16, 3, 1, "w8a8", 0),
    ((6, 6, 3), 8, 3, 1, "w4a4", 3),
    ((5, 5, 8), 7, 3, 1, "w8a8", 0),  # 2-bit output, partial block, odd pixel count
    ((3, 3, 16), 8, 1, 1, "w2a2", 0),  # 3-bit output: 4-bit containers, fused store
]


def _smlad_case_graph(
    shape: tuple[int, int, int], cout: int, kernel: int, stride: int, pair: str, z: int
) -> Graph:
    """The one-conv graph of a SMLAD_CASES row (seed = cout, output bits 2 + cout % 7)."""
    p = BitPair.parse(pair)
    return conv_graph(
        cout,
        shape,
        cout,
        w_bits=p.w,
        a_bits=p.a,
        out_bits=2 + cout % 7,
        kernel=kernel,
        stride=stride,
        zero_point=z,
    )


@pytest.mark.emulator
@pytest.mark.parametrize(("shape", "cout", "kernel", "stride", "pair", "z"), SMLAD_CASES)
def test_smlad2_bit_exact_in_the_emulator(shape, cout, kernel, stride, pair, z, tmp_path):
    g = _smlad_case_graph(shape, cout, kernel, stride, pair, z)
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="smlad2")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
    assert r.scheme == "smlad2" and r.cycles > 0
    source = render_layer(g, g.op("op"), "mq_x", prefer="smlad2").source
    if "_small" not in source and "_q[" in source:  # block kernel with the folded requant
        assert "MQ_X_FUSED" in source  # the all-asm block path ran in the emulator


@pytest.mark.emulator
@pytest.mark.parametrize(("shape", "cout", "kernel", "stride", "pair", "z"), SMLAD_CASES[:5])
def test_smlad2b_bit_exact_in_the_emulator(shape, cout, kernel, stride, pair, z, tmp_path):
    g = _smlad_case_graph(shape, cout, kernel, stride, pair, z)
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="smlad2b")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
    assert r.scheme == "smlad2b"


@pytest.mark.emulator
@pytest.mark.parametrize("prefer", ["smlad2", "smlad2b"])
@pytest.mark.parametrize(("pair", "shape"), [("w8a8", (3, 3, 8)), ("w2a4", (64,))])
def test_linear_in_the_emulator(pair: str, shape, prefer: str, tmp_path: Path) -> None:
    """Linear layers take the one-pixel cores (1 px x 4 ch) of both families."""
    p = BitPair.parse(pair)
    g = conv_graph(1, shape, 10, kind="linear", w_bits=p.w, a_bits=p.a, out_bits=8 - p.w // 2)
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer=prefer)
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
    assert "_1x4c" in r.kernel


@pytest.mark.emulator
@pytest.mark.parametrize("kind", ["conv2d", "dwconv2d", "linear", "maxpool", "avgpool", "add"])
def test_scalar_family_in_the_emulator(kind: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    g = single_op_graph(
        rng,
        "conv2d" if kind == "dwconv2d" else kind,
        in_shape=(5, 5, 6),
        out_channels=5,
        depthwise=kind == "dwconv2d",
        w_bits=4,
        a_bits_in=4,
        a_bits_out=2 if kind != "maxpool" else None,
    )
    r = bench_case(g, "op", out_dir=tmp_path / "case", isa="scalar")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
    assert r.kernel.endswith("__scalar")


def _sources() -> list[tuple[str, str, tuple[str, ...], int]]:
    out = []
    for pair, shape, kind in [
        ("w8a8", (5, 5, 8), "conv2d"),
        ("w4a2", (5, 5, 16), "conv2d"),
        ("w2a4", (5, 5, 3), "conv2d"),
        ("w5a3", (4, 4, 8), "linear"),
    ]:
        p = BitPair.parse(pair)
        g = conv_graph(2, shape, 6, kind=kind, w_bits=p.w, a_bits=p.a, out_bits=4)
        for isa, prefer in (("m4", "smlad2"), ("m4", "smlad2b"), ("scalar", None)):
            code = render_layer(g, g.op("op"), "mq_layer_0", isa=isa, prefer=prefer)
            out.append((code.kernel, code.source, code.support_files, code.const_bytes))
    for kind in ("maxpool", "avgpool", "add"):
        g = single_op_graph(np.random.default_rng(0), kind, in_shape=(4, 4, 5), a_bits_in=2)
        code = render_layer(g, g.op("op"), "mq_layer_0", isa="scalar")
        out.append((code.kernel, code.source, code.support_files, code.const_bytes))
    return out


def _compilers() -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    if shutil.which(ARM_CC):
        out.append((ARM_CC, "-mcpu=cortex-m4", "-mthumb"))
    if importlib.util.find_spec("ziglang") is not None:
        out.append((sys.executable, "-m", "ziglang", "cc", *ZIG_TARGET))
    return out


@pytest.mark.toolchain
@pytest.mark.parametrize("cc", _compilers(), ids=lambda cc: "zig" if "ziglang" in cc else "gcc")
def test_sources_compile_warning_free_for_the_m4(cc: tuple[str, ...], tmp_path: Path) -> None:
    for i, (kernel, source, support, const_bytes) in enumerate(_sources()):
        src = tmp_path / f"layer{i}.c"
        src.write_text(source)
        cmd = [*cc, *ARM_FLAGS, f"-I{INCLUDE_DIR}", f"-I{KERNELS_DIR}", "-c", str(src)]
        cmd += ["-o", str(tmp_path / f"layer{i}.o")]
        cmd += [str(KERNELS_DIR / s) for s in support if s.endswith(".c")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{kernel}: {proc.stderr.strip()[:400]}"
        if cc[0] == ARM_CC:  # clang may fold a constant array away (e.g. all shifts equal)
            assert _rodata_bytes(tmp_path / f"layer{i}.o", "mq_layer_0_") == const_bytes, kernel


def _rodata_bytes(obj: Path, prefix: str) -> int:
    """Bytes of the layer's constant arrays in the object file (LayerCode.const_bytes)."""
    from elftools.elf.elffile import ELFFile

    with obj.open("rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        return sum(
            s["st_size"]
            for s in symtab.iter_symbols()
            if s.name.startswith(prefix) and s["st_info"]["type"] == "STT_OBJECT"
        )


@pytest.mark.emulator
@pytest.mark.parametrize("prefer", ["smlad2", "smlad2b"])
def test_c_requant_paths_in_the_emulator(prefer: str, tmp_path: Path) -> None:
    """Narrow clamp and a shift of 32 (no folded constants) run the C epilogue on the M4."""
    r = bench_case(clamped_graph(6, lo=4, hi=90), "op", out_dir=tmp_path / "a", prefer=prefer)
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
    g = conv_graph(4, (3, 4, 8), 5, w_bits=6, a_bits=8, out_bits=8, zero_point=7)
    op = g.op("op")
    rq = dataclasses.replace(op.requant, shift=np.full(5, 32, dtype=np.int32))
    g = dataclasses.replace(g, ops=(dataclasses.replace(op, requant=rq),))
    r = bench_case(g, "op", out_dir=tmp_path / "b", prefer=prefer)
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"


@pytest.mark.emulator
@pytest.mark.parametrize("prefer", ["smlad2", "smlad2b"])
@pytest.mark.parametrize("seed", [103, 108])
def test_random_chains_deploy_bit_exact(seed: int, prefer: str, tmp_path: Path) -> None:
    """Random conv/linear chains (asymmetric padding, strides, zero points, all bits)."""
    from mcumixq.codegen.deploy import deploy
    from mcumixq.ir.random_graph import random_graph

    rng = np.random.default_rng(seed)
    g = random_graph(
        rng,
        kinds=("conv2d", "conv2d", "conv2d", "linear"),
        input_shape=(9, 8, int(rng.integers(1, 20))),
        w_bits=None,
        a_bits=None,
        in_zero_point=None,
    )
    dense = {op.name: prefer for op in g.ops if op.kind in ("conv2d", "linear") and op.groups == 1}
    r = deploy(g, tmp_path / "deploy", n_samples=2, prefer=dense)
    assert r.bit_exact
    assert {row["scheme"] for row in r.layers if row["name"] in dense} <= {prefer, "smlad2"}


@pytest.mark.emulator
@pytest.mark.parametrize("out_bits", range(2, 9))
def test_fused_store_every_output_width(out_bits: int, tmp_path: Path) -> None:
    """The all-asm block (USAT #bits, 2/4/8-bit packing) for every output width."""
    g = conv_graph(out_bits, (3, 5, 16), 8, w_bits=5, a_bits=out_bits, out_bits=out_bits)
    source = render_layer(g, g.op("op"), "mq_x", prefer="smlad2").source
    assert "MQ_X_FUSED" in source
    r = bench_case(g, "op", out_dir=tmp_path / "case", prefer="smlad2")
    assert r.bit_exact, f"{r.kernel}: {r.first_mismatch}"
