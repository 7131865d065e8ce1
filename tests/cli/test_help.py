"""Every subcommand answers `--help` with exit 0 and at least one example (STYLE §2 CLI)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mcumixq.cli.main import SUBCOMMANDS, build_parser


def _installed() -> list[str]:
    """Subcommands whose module exists now (others are still being written)."""
    sub = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    return sorted(sub.choices)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_exits_0_with_an_example(command: str) -> None:
    if command not in _installed():
        pytest.skip(f"'mcumixq {command}' is not installed yet")
    proc = subprocess.run(
        [sys.executable, "-m", "mcumixq", command, "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.lower()
    assert "example" in text, f"'mcumixq {command} --help' shows no example"
    assert f"mcumixq {command}" in text.split("example", 1)[1], "the example runs another command"
    assert "--json" in proc.stdout, f"'mcumixq {command}' reports but has no --json"
    assert "-v, --verbose" in proc.stdout and "-q, --quiet" in proc.stdout


def test_top_level_help_lists_installed_commands() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mcumixq", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and "example" in proc.stdout
    for command in _installed():
        assert command in proc.stdout


def test_help_does_not_import_torch() -> None:
    """`mcumixq --help` stays fast: subcommand modules import torch only inside run()."""
    code = (
        "import sys; from mcumixq.cli.main import build_parser; build_parser(); "
        "print('torch' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "False"


def test_version() -> None:
    import mcumixq

    proc = subprocess.run(
        [sys.executable, "-m", "mcumixq", "--version"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == f"mcumixq {mcumixq.__version__}"
