"""Fuzz the ELF loader and the emulator: damaged firmware is an MqError, never a crash.

A small real firmware (startup code, a call, .data, .bss, a loop) is damaged by the mutators of
elf_mutations.py; `load_elf` then `run_elf` (with a small instruction budget, so scrambled code
that loops ends quickly) must either succeed or raise an MqError subclass with one line.
benchmarks/fuzz.py runs the same mutators thousands of times.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcumixq.errors import MqError
from mcumixq.target.boards import get_board
from mcumixq.target.build import build_elf
from mcumixq.target.elf import load_elf
from mcumixq.target.emulator import run_elf

from .elf_mutations import MAX_INSTRUCTIONS, MUTATORS, SEED_C

pytestmark = [pytest.mark.toolchain, pytest.mark.emulator]


@pytest.fixture(scope="module")
def seed_elf(tmp_path_factory: pytest.TempPathFactory, toolchain: object) -> bytes:
    d = tmp_path_factory.mktemp("elf_seed")
    (d / "seed.c").write_text(SEED_C)
    path = build_elf([d / "seed.c"], d / "seed.elf", board=get_board("nucleo-l4r5zi"))
    return path.read_bytes()


def load_and_run(path: Path) -> str:
    """'ran' | 'rejected'; any exception that is not an MqError propagates (a crash)."""
    try:
        load_elf(path)
        run_elf(path, max_instructions=MAX_INSTRUCTIONS, read=("mq_status",))
    except MqError as err:
        assert "\n" not in str(err), f"multi-line error: {err!r}"
        return "rejected"
    return "ran"


def test_seed_runs_cleanly(seed_elf: bytes, tmp_path: Path) -> None:
    """The undamaged seed must run and pass, or the fuzz would only test the error path."""
    path = tmp_path / "seed.elf"
    path.write_bytes(seed_elf)
    result = run_elf(path, read=("mq_status",))
    assert result.stop == "bkpt" and result.symbols["mq_status"] == bytes(4)


@pytest.mark.parametrize("name", sorted(MUTATORS))
def test_each_mutator_changes_the_file(name: str, seed_elf: bytes) -> None:
    rng = np.random.default_rng(0)
    assert any(MUTATORS[name](seed_elf, rng) != seed_elf for _ in range(20)), name


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=st.sampled_from(sorted(MUTATORS)), seed=st.integers(0, 2**32 - 1))
def test_damaged_elf_is_an_mqerror_or_runs(
    name: str, seed: int, seed_elf: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "case.elf"
    data = MUTATORS[name](seed_elf, np.random.default_rng(seed))
    path.write_bytes(data)
    assert load_and_run(path) in ("ran", "rejected")
