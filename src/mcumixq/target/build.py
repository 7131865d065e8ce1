"""Compile C and assembly sources into a Cortex-M4 ELF (or a sanitized host binary for tests).

One compiler invocation per ELF: sources + the project's startup code + a linker script made
from the board profile. Flags follow DESIGN §5/§8 (`-O3 -mcpu=cortex-m4 -mthumb`, soft float,
function/data sections, `--gc-sections`), so our figures are comparable with the peers'. newlib
(gcc) or compiler-rt (zig) stays linked for memcpy/memset and 64-bit helpers, nothing else.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from mcumixq.errors import InputError, ToolchainError
from mcumixq.target.boards import Board
from mcumixq.target.startup import STARTUP_NAME, STARTUP_S, linker_script
from mcumixq.target.toolchain import INSTALL_HINT, Toolchain, find_toolchain

TARGET_CFLAGS = (
    "-O3",
    "-mcpu=cortex-m4",
    "-mthumb",
    "-mfloat-abi=soft",
    "-ffunction-sections",
    "-fdata-sections",
    "-g",
)
# Warnings the project's own C must be clean under (STYLE §2); callers opt in via `cflags`.
STRICT_CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-Wshadow")
HOST_CFLAGS = (
    "-O1",
    "-g",
    "-fsanitize=undefined,address",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
)
_LINK = {
    "gcc": ("-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections"),
    "zig": ("-Wl,--gc-sections",),  # zig links compiler-rt (64-bit helpers, memcpy) itself
}
_LIBS = {"gcc": ("-lc", "-lgcc"), "zig": ()}
_ERROR_LINE = re.compile(r"\b(error|undefined reference|fatal)\b", re.IGNORECASE)
BUILD_TIMEOUT_S = 600


def _first_error(stderr: str) -> str:
    """Pick the first line that names an error, so the user sees the cause, not the noise."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for line in lines:
        if _ERROR_LINE.search(line):
            return line
    return lines[0] if lines else "no diagnostic"


def _compile(argv: Sequence[str], what: str) -> None:
    """Run one compiler command; any failure becomes a one-line ToolchainError."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, check=False, timeout=BUILD_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolchainError(f"{what}: cannot run {argv[0]} ({err}); {INSTALL_HINT}") from err
    if proc.returncode != 0:
        raise ToolchainError(f"{what}: build failed: {_first_error(proc.stderr)}")


def _target_flags(tc: Toolchain) -> list[str]:
    """gcc takes TARGET_CFLAGS as is; zig names the CPU in its -target triple (`cortex_m4`)."""
    if tc.kind == "zig":
        return [f for f in TARGET_CFLAGS if not f.startswith("-mcpu=")]
    return list(TARGET_CFLAGS)


def _check_sources(sources: Sequence[Path]) -> list[Path]:
    """Sources must exist and be C or assembly; say which one is wrong."""
    paths = [Path(s) for s in sources]
    if not paths:
        raise InputError("no sources to build; pass at least one .c or .S file")
    for path in paths:
        if not path.is_file():
            raise InputError(f"{path}: source file not found")
        if path.suffix not in (".c", ".S", ".s"):
            raise InputError(f"{path}: not a C or assembly source; use .c, .S or .s")
    return paths


def build_elf(
    sources: Sequence[Path],
    out: Path,
    *,
    board: Board,
    include_dirs: Sequence[Path] = (),
    defines: Mapping[str, str] | None = None,
    cflags: Sequence[str] = (),
    toolchain: Toolchain | None = None,
    startup: bool = True,
) -> Path:
    """Build `sources` into the ELF `out` for `board`; return `out`.

    With `startup` the project's `_start`/vector table is linked in (the sources provide
    `int main(void)`); without it the sources must define `_start` themselves. With gcc the
    linker map (`.map`) is kept next to the ELF for size investigations. The ELF appears
    atomically.
    """
    paths = _check_sources(sources)
    tc = toolchain or find_toolchain()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        script = work / "link.ld"
        script.write_text(linker_script(board))
        extra: list[Path] = []
        if startup:
            extra.append(work / STARTUP_NAME)
            extra[0].write_text(STARTUP_S)
        argv = [*tc.cc, *_target_flags(tc), *cflags]
        argv += [f"-I{d}" for d in include_dirs]
        argv += [f"-D{k}={v}" for k, v in sorted((defines or {}).items())]
        argv += [str(p) for p in (*paths, *extra)]
        argv += [*_LINK[tc.kind], f"-Wl,-T,{script}"]
        if tc.kind == "gcc":  # zig's lld driver has no -Map
            argv.append(f"-Wl,-Map={work / 'out.map'}")
        argv += ["-o", str(work / "out.elf"), *_LIBS[tc.kind]]
        _compile(argv, paths[0].name)
        if (work / "out.map").exists():
            (work / "out.map").replace(out.with_suffix(".map"))
        (work / "out.elf").replace(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def build_host(
    sources: Sequence[Path],
    out: Path,
    include_dirs: Sequence[Path] = (),
    cflags: Sequence[str] = (),
    *,
    cc: str = "gcc",
) -> Path:
    """Build a host executable with UBSan+ASan so kernels' C fallbacks can be tested natively."""
    paths = _check_sources(sources)
    if shutil.which(cc) is None:
        raise ToolchainError(f"host compiler '{cc}' not found; install gcc (apt-get install gcc)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    argv = [cc, *HOST_CFLAGS, *cflags, *[f"-I{d}" for d in include_dirs]]
    argv += [str(p) for p in paths]
    argv += ["-o", str(tmp)]
    try:
        _compile(argv, paths[0].name)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
