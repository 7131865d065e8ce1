"""Bad input through the real CLI (issue 8): one line on stderr, the right exit code, no
traceback, nothing half-written.

Every case runs `python -m mcumixq ...` in a subprocess, as a user would, on tiny files made
here. The module prints the table case -> exit code -> message at the end (it goes into the
closing note). Cases for commands that are not installed yet are skipped, not faked.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from mcumixq.cli.main import build_parser
from mcumixq.errors import ToolchainError
from mcumixq.ir.mqz import save_graph
from mcumixq.ir.random_graph import single_op_graph, tiny_cnn

TIMEOUT_S = 120


@dataclass(frozen=True, slots=True)
class Case:
    """One bad invocation: argv with `{d}` standing for the fixture directory."""

    name: str
    argv: tuple[str, ...]
    code: int
    expect: str  # substring of the one error line
    outputs: tuple[str, ...] = ()  # paths (under {d}) that must not exist afterwards
    needs: tuple[str, ...] = field(default=())  # 'toolchain' and/or a subcommand name
    env: tuple[tuple[str, str], ...] = ()  # extra environment variables


def _rezip(data: bytes, edit: Callable[[dict], None]) -> bytes:
    """The .mqz `data` with meta.json edited (the zip itself stays well-formed)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(files["meta.json"])
    edit(doc)
    files["meta.json"] = json.dumps(doc).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, blob in files.items():
            zf.writestr(name, blob)
    return buf.getvalue()


def _set(key: str, value: object) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        doc[key] = value

    return edit


def _unknown_op(doc: dict) -> None:
    doc["ops"][0]["kind"] = "conv3d"


def _write_graphs(d: Path) -> None:
    rng = np.random.default_rng(8)
    save_graph(tiny_cnn(rng, 4, 4, in_shape=(6, 6, 2)), d / "good.mqz")
    good = (d / "good.mqz").read_bytes()
    (d / "truncated.mqz").write_bytes(good[: len(good) // 2])
    (d / "garbled.mqz").write_bytes(b"PK\x03\x04" + rng.bytes(600))
    (d / "text.mqz").write_text("not a graph\n")
    (d / "version.mqz").write_bytes(_rezip(good, _set("format_version", 99)))
    (d / "foreign.mqz").write_bytes(_rezip(good, _set("format", "onnx")))
    (d / "unknown_op.mqz").write_bytes(_rezip(good, _unknown_op))
    # 96x96x16 input at 8 bits = 147 KiB: more than the F446RE's 128 KiB of SRAM.
    save_graph(single_op_graph(rng, "maxpool", in_shape=(96, 96, 16)), d / "big.mqz")
    # 4096 x 160 weights: more than the F446RE's 512 KiB of flash once packed.
    wide = single_op_graph(rng, "linear", in_shape=(4096,), out_channels=160)
    save_graph(wide, d / "wide.mqz")


class _Payload:
    """Unpickling this runs a shell command: what a hostile model.pt would carry."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _write_checkpoints(d: Path) -> None:
    """A float MLP checkpoint for 8x8 digits, and damaged copies of it."""
    import pickle

    import torch

    from mcumixq.quant import ModelSpec, save_checkpoint

    spec = ModelSpec(name="mlp", in_channels=1, in_size=(8, 8), num_classes=10, width=0.25)
    torch.manual_seed(0)
    save_checkpoint(d / "ck", spec.build(), spec=spec, config=None)
    weights = (d / "ck" / "model.pt").read_bytes()
    damaged = {
        "ck_pickle": pickle.dumps(_Payload(d / "PWNED")),
        "ck_truncated": weights[: len(weights) // 3],
        "ck_shapes": _zero_state(weights),
    }
    for name, blob in damaged.items():
        shutil.copytree(d / "ck", d / name)
        (d / name / "model.pt").write_bytes(blob)
    shutil.copytree(d / "ck", d / "ck_config")
    (d / "ck_config" / "config.json").write_text("{")


def _zero_state(weights: bytes) -> bytes:
    """The same parameter names with 1-element tensors: a checkpoint of another model."""
    import torch

    state = torch.load(io.BytesIO(weights), weights_only=True)
    buf = io.BytesIO()
    torch.save({k: torch.zeros(1) for k in state}, buf)
    return buf.getvalue()


def _write_blocked_report(d: Path) -> None:
    """A valid demo report.json whose report.md path is taken by a directory."""
    from mcumixq.report.schema import build_report

    deploy = {"cycles": 10, "latency_ms": 0.1, "clock_mhz": 120.0, "flash_bytes": 1, "board": "b",
              "sram_bytes": 1, "bit_exact": True, "elf": "x.elf", "selftest_samples": 1,
              "layers": [{"name": "fc", "op": "linear", "w_bits": 8, "a_bits": 8, "macs": 1,
                          "cycles": 10, "kernel": "k"}]}  # fmt: skip
    doc = build_report(
        dataset="digits", accuracy={"float": 0.9, "int8": 0.9, "mixed": 0.9}, mixed=deploy,
        baseline=deploy, predicted_cycles=10.0, predicted_layers={}, bits={},
    )  # fmt: skip
    (d / "report.md").mkdir(parents=True)
    (d / "report.json").write_text(json.dumps(doc))


FAULT_C = """
#include <stdint.h>
__attribute__((noinline)) void mq_poke(volatile uint32_t *p) { *p = 1u; }
int main(void) { mq_poke((volatile uint32_t *)0x90000000u); return 0; }
"""
LOOP_C = """
volatile int mq_spin;
int main(void) { for (;;) { mq_spin++; } }
"""


def _write_elves(d: Path) -> bool:
    """Build the faulting and looping firmware; False when there is no Cortex-M4 compiler."""
    from mcumixq.target.boards import get_board
    from mcumixq.target.build import build_elf

    try:
        for name, code in (("fault", FAULT_C), ("loop", LOOP_C)):
            (d / f"{name}.c").write_text(code)
            build_elf([d / f"{name}.c"], d / f"{name}.elf", board=get_board("nucleo-l4r5zi"))
    except ToolchainError:
        return False
    elf = (d / "fault.elf").read_bytes()
    (d / "truncated.elf").write_bytes(elf[:300])
    return True


def _deploy(name: str, file: str, expect: str, *extra: str) -> Case:
    argv = ("deploy", f"{{d}}/{file}", "--out", "{d}/fw", *extra)
    return Case(f"deploy: {name}", argv, 2, expect, ("fw",))


def _bench(name: str, flag: str, value: str, expect: str) -> Case:
    argv = ("bench", "kernels", "--out", "{d}/b", flag, value)
    return Case(f"bench: {name}", argv, 2, expect, ("b",))


def _run(name: str, argv: tuple[str, ...], expect: str, needs: tuple[str, ...] = ()) -> Case:
    return Case(f"run: {name}", ("run", *argv), 2, expect, (), needs)


def _train(name: str, extra: tuple[str, ...], expect: str) -> Case:
    argv = ("train", "--dataset", "digits", "--limit", "50", "--out", "{d}/ck_out", *extra)
    return Case(f"train: {name}", argv, 2, expect, ("ck_out",))


def _export(name: str, checkpoint: str, expect: str) -> Case:
    argv = ("export", f"{{d}}/{checkpoint}", "--out", "{d}/out.mqz")
    return Case(f"export: {name}", argv, 2, expect, ("out.mqz",))


def _eval(name: str, argv: tuple[str, ...], expect: str) -> Case:
    return Case(f"eval: {name}", ("eval", *argv, "--limit", "50"), 2, expect)


def _search(command: str, name: str, extra: tuple[str, ...], expect: str) -> Case:
    argv = (command, "--out", "{d}/s_out", "--dataset", "digits", *extra)
    return Case(f"{command}: {name}", argv, 2, expect, ("s_out",))


def _cases() -> list[Case]:
    tc = ("toolchain",)
    return [
        _run("missing ELF", ("{d}/none.elf",), "file not found"),
        _run("directory as ELF", ("{d}",), "is a directory"),
        _run("garbled ELF", ("{d}/garbled.mqz",), "not a valid ELF"),
        _run("truncated ELF", ("{d}/truncated.elf",), "not a valid ELF", tc),
        _run("x86 ELF", (sys.executable,), "not a 32-bit little-endian Arm ELF"),
        _run("no entry symbol", ("{d}/fault.elf", "--entry", "nosuch"), "'nosuch'", tc),
        _run("emulator fault", ("{d}/fault.elf",), "unmapped write at address 0x90000000", tc),
        _run(
            "instruction budget", ("{d}/loop.elf", "--max-instructions", "5000"),
            "instruction limit 5000 reached", tc,
        ),
        _run("unknown board", ("{d}/none.elf", "--board", "uno"), "'uno'"),
        _deploy("missing .mqz", "none.mqz", "none.mqz"),
        _deploy("truncated .mqz", "truncated.mqz", "not an mcumixq graph"),
        _deploy("garbled .mqz", "garbled.mqz", "not an mcumixq graph"),
        _deploy("text file as .mqz", "text.mqz", "not an mcumixq graph"),
        _deploy("wrong format version", "version.mqz", "format_version 99"),
        _deploy("foreign format", "foreign.mqz", "not an mcumixq graph"),
        _deploy("unknown op", "unknown_op.mqz", "conv3d"),
        _deploy(
            "model too big for the board", "big.mqz", "has 131072 B",
            "--board", "nucleo-f446re", "--samples", "1",
        ),
        _deploy(
            "weights too big for flash", "wide.mqz", "has 524288 B",
            "--board", "nucleo-f446re", "--samples", "1",
        ),
        _deploy("--samples 0", "good.mqz", "n_samples=0", "--samples", "0"),
        _deploy("unknown board", "good.mqz", "invalid choice: 'uno'", "--board", "uno"),
        _bench("w_bits 1", "--pairs", "1/4", "w_bits=1"),
        _bench("w_bits 9", "--pairs", "9/4", "w_bits=9"),
        _bench("bits '4.5'", "--pairs", "4.5/4", "'4.5'"),
        _bench("unknown layer", "--shapes", "L9", "L9"),
        _deploy("--gcc /nonexistent/gcc", "good.mqz", "'/nonexistent/gcc' not found",
                "--gcc", "/nonexistent/gcc"),
        Case(
            "deploy: MCUMIXQ_ARM_GCC points nowhere",
            ("deploy", "{d}/good.mqz", "--out", "{d}/fw"), 2, "'/nowhere/gcc' not found",
            ("fw",), env=(("MCUMIXQ_ARM_GCC", "/nowhere/gcc"),),
        ),
        _train("w_bits 1", ("--bits", "1/4"), "w_bits=1"),
        _train("a_bits 9", ("--bits", "4/9"), "a_bits=9"),
        _train("bits '4.5'", ("--bits", "4.5/4"), "'4.5'"),
        Case(
            "train: missing dataset",
            ("train", "--dataset", "fashion-mnist", "--data-dir", "{d}/nodata", "--out", "{d}/o"),
            2, "Fashion-MNIST not found in", ("o",),
        ),
        Case(
            "train: folder dataset without --data-dir",
            ("train", "--dataset", "folder", "--out", "{d}/o"), 2, "pass --data-dir", ("o",),
        ),
        _train("unknown model", ("--model", "vit"), "unknown model 'vit'"),
        _train("missing bit map", ("--bits-map", "{d}/none.json"), "none.json"),
        _train("--epochs 0", ("--epochs", "0"), "--epochs 0 must be >= 1"),
        _export("missing checkpoint", "none", "not a checkpoint"),
        _export(".mqz as checkpoint", "good.mqz", "not a checkpoint directory"),
        _export("pickle payload in model.pt", "ck_pickle", "corrupt or foreign weights"),
        _export("truncated model.pt", "ck_truncated", "corrupt or foreign weights"),
        _export("weights of another model", "ck_shapes", "corrupt or foreign weights"),
        _export("garbled config.json", "ck_config", "corrupt checkpoint config"),
        _eval("missing target", ("{d}/none.mqz",), "none.mqz"),
        _eval("truncated .mqz", ("{d}/truncated.mqz",), "not an mcumixq graph"),
        _eval("graph vs dataset shape", ("{d}/good.mqz", "--dataset", "digits"), "(8, 8, 1)"),
        _eval("pickle payload checkpoint", ("{d}/ck_pickle", "--dataset", "digits"), "foreign"),
        _search("search", "w_bits candidate 1", ("--w-bits", "1,4"), "w_bits=1"),
        _search("search", "pinned pair 9/9", ("--fix-first", "9/9"), "w_bits=9"),
        _search("search", "negative latency budget", ("--latency-ms", "-1"), "latency_ms=-1"),
        _search("pareto", "fractions 'x'", ("--fractions", "0.3,x"), "--fractions"),
        _search("demo", "a_bits '4.5'", ("--a-bits", "4.5"), "'4.5'"),
        Case("report: missing dir", ("report", "{d}/nodir"), 2, "report.json: not found"),
        Case("report: malformed report.json", ("report", "{d}/rep"), 2, "field 'dataset'"),
        Case(
            "report: report.md path is a directory", ("report", "{d}/blocked"), 2,
            "Is a directory",
        ),
        _deploy("--out not writable", "good.mqz", "cannot write here", "--out", "/proc/mq"),
        Case("calibrate: --workers 0", ("calibrate", "--workers", "0"), 2, "--workers 0"),
        Case("usage: unknown command", ("frobnicate",), 2, "invalid choice: 'frobnicate'"),
        Case("usage: missing argument", ("run",), 2, "required: ELF"),
    ]  # fmt: skip


CASES = _cases()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, bool]]:
    d = tmp_path_factory.mktemp("bad")
    _write_graphs(d)
    _write_checkpoints(d)
    (d / "rep").mkdir()
    (d / "rep" / "report.json").write_text('{"dataset": 3}')
    _write_blocked_report(d / "blocked")
    yield d, _write_elves(d)


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> Iterator[list[tuple[str, int, str]]]:
    """Collects (case, exit code, message) and prints the table when the module ends."""
    rows: list[tuple[str, int, str]] = []
    yield rows
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is None or capture is None or not rows:
        return
    with capture.global_and_fixture_disabled():  # print past pytest's capture, even with -q
        reporter.write_line("\n| case | exit | message |\n|---|---|---|")
        for name, code, message in rows:
            reporter.write_line(f"| {name} | {code} | `{message}` |")


def mcumixq(argv: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user does (fresh interpreter, real argv)."""
    return subprocess.run(
        [sys.executable, "-m", "mcumixq", *argv],
        capture_output=True, text=True, timeout=TIMEOUT_S, cwd=cwd, check=False, **kwargs,
    )  # fmt: skip


def _available() -> set[str]:
    return {a.dest for a in build_parser()._subparsers._group_actions[0]._choices_actions}  # type: ignore[union-attr]


def assert_one_clean_line(proc: subprocess.CompletedProcess[str], code: int, expect: str) -> str:
    """The run exited `code` with exactly one stderr line containing `expect`; return it."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mcumixq"), lines[0]
    assert expect in lines[0], (expect, lines[0])
    return lines[0]


def _leftovers(d: Path, name: str) -> list[str]:
    """The output itself, or any temp sibling (.NAME.*) an atomic write left behind."""
    return sorted(p.name for p in d.iterdir() if p.name == name or p.name.startswith(f".{name}."))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Case, files: tuple[Path, bool], report: list) -> None:
    d, have_toolchain = files
    if "toolchain" in case.needs and not have_toolchain:
        pytest.skip("no Cortex-M4 compiler")
    command = case.argv[0]
    if not command.startswith("frob") and command not in _available():
        pytest.skip(f"'mcumixq {command}' is not installed yet")
    argv = [a.replace("{d}", str(d)) for a in case.argv]
    proc = mcumixq(argv, d, env={**os.environ, **dict(case.env)})
    line = assert_one_clean_line(proc, case.code, case.expect)
    for name in case.outputs:
        assert _leftovers(d, name) == [], name
    assert not (d / "PWNED").exists(), "a pickle in a user file ran code"
    report.append((case.name, proc.returncode, line.replace(str(d), "DIR")))


@pytest.mark.toolchain
def test_ctrl_c_during_build_exits_130_and_writes_nothing(
    files: tuple[Path, bool], report: list
) -> None:
    """SIGINT while gcc runs: exit 130, one line, no output directory and no temp sibling."""
    d, have_toolchain = files
    if not have_toolchain:
        pytest.skip("no Cortex-M4 compiler")
    argv = ["deploy", str(d / "good.mqz"), "--out", str(d / "fw_int"), "--samples", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcumixq", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=d,
    )  # fmt: skip
    # Interrupt once the temp project directory exists (generation done, build under way).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        p.name.startswith(".fw_int.") for p in d.iterdir()
    ):
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=TIMEOUT_S)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    line = assert_one_clean_line(done, 130, "interrupted")
    assert _leftovers(d, "fw_int") == []
    report.append(("deploy: Ctrl-C during the build", proc.returncode, line))


def test_ctrl_c_during_training_exits_130(files: tuple[Path, bool], report: list) -> None:
    """SIGINT mid-training: exit 130, one line; what is on disk is a whole epoch or nothing."""
    d, _ = files
    out = d / "ck_int"
    argv = [
        "train",
        "--dataset",
        "digits",
        "--model",
        "mlp",
        "--limit",
        "300",
        "--epochs",
        "100000",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcumixq", *argv, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=d,
    )  # fmt: skip
    # Wait until the first epoch's checkpoint is on disk: then we are inside the epoch loop,
    # however fast or loaded the machine is (a fixed sleep raced on an idle machine).
    deadline = time.monotonic() + TIMEOUT_S
    while not (out / "metrics.json").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "training never completed a first epoch"
        time.sleep(0.2)
    assert proc.poll() is None, "training ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=TIMEOUT_S)
    done = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    line = assert_one_clean_line(done, 130, "interrupted")
    assert [p for p in d.iterdir() if p.name.startswith(".ck_int")] == []
    if out.exists():  # checkpointed epochs are complete files, each written atomically
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
            "config.json",
            "metrics.json",
            "model.pt",
        ]
        assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    report.append(("train: Ctrl-C during training", proc.returncode, line))


def test_unsupported_layer_names_it_and_the_supported_ops(report: list) -> None:
    """The Python API path of a user's own model (no CLI command takes an arbitrary module)."""
    import torch
    from torch import nn

    from mcumixq.errors import UnsupportedModelError
    from mcumixq.quant import QuantConfig, prepare_qat

    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.GELU(), nn.Flatten(), nn.Linear(144, 10))
    with pytest.raises(UnsupportedModelError) as info:
        prepare_qat(model, QuantConfig(), torch.zeros(2, 1, 8, 8))
    message = str(info.value)
    assert "\n" not in message and "'1' (GELU)" in message and "Conv2d" in message
    report.append(("api: prepare_qat on a model with nn.GELU", 2, message))


def test_traceback_only_with_verbose(files: tuple[Path, bool]) -> None:
    d, _ = files
    quiet = mcumixq(["run", str(d / "none.elf")], d)
    verbose = mcumixq(["-v", "run", str(d / "none.elf")], d)
    assert quiet.returncode == verbose.returncode == 2
    assert "Traceback" not in quiet.stderr and "Traceback" in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1] == quiet.stderr.strip()
