"""Find a Cortex-M4 C compiler: arm-none-eabi-gcc first, else ziglang's clang from pip.

The compiler path is a parameter (the CLI may take it from an environment variable); library
code never reads the environment. gcc is preferred because the peer figures of DESIGN §8 were
measured with arm-none-eabi-gcc 12 -O3; zig is a pip-installable fallback with no newlib.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from mcumixq.errors import ToolchainError

GCC_NAME = "arm-none-eabi-gcc"
# The CLI (only) may read this variable and pass its value as `find_toolchain(gcc=...)`.
GCC_ENV_VAR = "MCUMIXQ_ARM_GCC"
ZIG_TARGET = ("-target", "thumb-freestanding-eabi", "-mcpu=cortex_m4")
INSTALL_HINT = (
    "install arm-none-eabi-gcc (Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi) "
    "or ziglang (pip install ziglang)"
)


@dataclass(frozen=True, slots=True)
class Toolchain:
    """A compiler driver: `cc` is the argv prefix to which flags and sources are appended."""

    kind: str  # 'gcc' | 'zig'
    cc: tuple[str, ...]
    version: str


def _version(argv: tuple[str, ...]) -> str:
    """First line printed by `argv` (a version query); a driver that cannot answer is unusable."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolchainError(f"{argv[0]}: cannot run ({err}); {INSTALL_HINT}") from err
    lines = (proc.stdout or proc.stderr).strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise ToolchainError(f"'{' '.join(argv)}' failed; {INSTALL_HINT}")
    return lines[0]


def find_toolchain(gcc: str | None = None) -> Toolchain:
    """Return the compiler to use: `gcc` if given, else arm-none-eabi-gcc on PATH, else zig."""
    if gcc is not None:
        path = shutil.which(gcc) or (gcc if Path(gcc).is_file() else None)
        if path is None:
            raise ToolchainError(f"compiler '{gcc}' not found; {INSTALL_HINT}")
        return Toolchain(kind="gcc", cc=(path,), version=_version((path, "--version")))
    path = shutil.which(GCC_NAME)
    if path is not None:
        return Toolchain(kind="gcc", cc=(path,), version=_version((path, "--version")))
    if importlib.util.find_spec("ziglang") is not None:
        zig = (sys.executable, "-m", "ziglang")
        version = "zig " + _version((*zig, "version"))
        return Toolchain(kind="zig", cc=(*zig, "cc", *ZIG_TARGET), version=version)
    raise ToolchainError(f"no Cortex-M4 compiler found ({GCC_NAME} not on PATH); {INSTALL_HINT}")
