"""Run one rendered layer on the host: gcc with UBSan + ASan, inputs in, output bytes out.

Every kernel family is checked against `mcumixq.ir.reference` this way before it ever reaches the
emulator: the C99 fallbacks of mq_m4.h make each kernel portable, and the sanitizers turn an
out-of-bounds read, a signed overflow or an unwritten output byte (the output buffer is filled
with 0xA5 first) into a failing test. Builds are cached by content hash in a temp directory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mcumixq.errors import ToolchainError, VerificationError
from mcumixq.kernels.registry import INCLUDE_DIR, KERNELS_DIR, LayerCode

HOST_CC = "gcc"
HOST_CFLAGS = (
    "-std=c99",
    "-O1",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wshadow",
    "-fsanitize=undefined,address",
    "-fno-sanitize-recover",
    "-DMQ_HOST_TEST",
)

_MAIN = r"""/* hosttest main: read in0 then in1 from stdin, call the layer, write out to stdout. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void %(fn)s(const uint8_t *in0, const uint8_t *in1, uint8_t *out, uint8_t *scratch);

static uint8_t *read_exact(size_t n)
{
    if (n == 0) {
        return NULL;
    }
    uint8_t *p = malloc(n);
    if (p == NULL || fread(p, 1, n, stdin) != n) {
        fprintf(stderr, "hosttest: short input\n");
        exit(3);
    }
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: layer N_IN0 N_IN1 N_OUT N_SCRATCH ALIAS\n");
        return 3;
    }
    size_t n0 = strtoul(argv[1], NULL, 10), n1 = strtoul(argv[2], NULL, 10);
    size_t no = strtoul(argv[3], NULL, 10), ns = strtoul(argv[4], NULL, 10);
    int alias = atoi(argv[5]);
    uint8_t *in0 = read_exact(n0);
    uint8_t *in1 = read_exact(n1);
    uint8_t *out = alias ? in0 : malloc(no);
    uint8_t *scratch = ns ? malloc(ns) : NULL;
    if (!alias) {
        memset(out, 0xA5, no);
    }
    if (scratch != NULL) {
        memset(scratch, 0xCD, ns);
    }
    %(fn)s(in0, in1, out, scratch);
    fwrite(out, 1, no, stdout);
    free(scratch);
    if (!alias) {
        free(out);
    }
    free(in1);
    free(in0);
    return 0;
}
"""


def default_cache_dir() -> Path:
    """Per-user build cache under the system temp dir (never the working directory)."""
    return Path(tempfile.gettempdir()) / f"mcumixq-hosttest-{os.getuid()}"


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "error" in line:
            return line.strip()
    return (text.strip().splitlines() or ["(no output)"])[0]


def build_host(code: LayerCode, *, cache_dir: Path | None = None) -> Path:
    """Compile the layer + support files + a generated main; return the cached executable."""
    if shutil.which(HOST_CC) is None:
        raise ToolchainError(f"host compiler {HOST_CC!r} not found; install it (apt install gcc)")
    main = _MAIN % {"fn": code.function}
    srcs = [f for f in code.support_files if f.endswith((".c", ".S"))]
    h = hashlib.sha256()
    for part in (code.source, main, " ".join(HOST_CFLAGS), *srcs):
        h.update(part.encode() + b"\0")
    for f in sorted(KERNELS_DIR.rglob("*.h")) + [KERNELS_DIR / s for s in srcs]:
        h.update(f.read_bytes())
    root = cache_dir or default_cache_dir()
    exe = root / f"layer-{h.hexdigest()[:20]}"
    if exe.is_file():
        return exe
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        work = Path(tmp)
        (work / "layer.c").write_text(code.source)
        (work / "main.c").write_text(main)
        cmd = [HOST_CC, *HOST_CFLAGS, f"-I{INCLUDE_DIR}", f"-I{KERNELS_DIR}", "-o", str(work / "a")]
        cmd += [str(work / "layer.c"), str(work / "main.c")]
        cmd += [str(KERNELS_DIR / s) for s in srcs]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ToolchainError(
                f"host build of {code.kernel} failed: {_first_error(proc.stderr)}; "
                "fix the family template"
            )
        (work / "a").replace(exe)
    return exe


def run_layer_on_host(
    code: LayerCode,
    in0: bytes,
    in1: bytes | None,
    out_bytes: int,
    *,
    alias: bool = False,
    cache_dir: Path | None = None,
) -> bytes:
    """Run the layer once on the host and return its `out_bytes` output bytes.

    With `alias=True` the output buffer is `in0` itself (for `inplace` layers); then
    `out_bytes` must not exceed len(in0).
    """
    if alias and out_bytes > len(in0):
        raise VerificationError(f"alias run needs out_bytes={out_bytes} <= len(in0)={len(in0)}")
    exe = build_host(code, cache_dir=cache_dir)
    n1 = len(in1) if in1 is not None else 0
    args = [str(exe), str(len(in0)), str(n1), str(out_bytes), str(code.scratch_bytes)]
    args.append("1" if alias else "0")
    env = {"ASAN_OPTIONS": "detect_leaks=0", "PATH": os.defpath}
    proc = subprocess.run(
        args,
        input=bytes(in0) + (bytes(in1) if in1 else b""),
        capture_output=True,
        check=False,
        env=env,
        timeout=120,
    )
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace")
        raise VerificationError(
            f"{code.kernel} ({code.function}) crashed on the host (exit {proc.returncode}): "
            f"{_first_error(err)}; rerun the test to see the sanitizer report"
        )
    if len(proc.stdout) != out_bytes:
        raise VerificationError(
            f"{code.kernel}: {len(proc.stdout)} output bytes, {out_bytes} expected"
        )
    return proc.stdout
