"""Run one rendered layer in the emulated Cortex-M4: bit-exact output and cycles of one call.

A small harness for the depthwise/pool/add kernel tests (codegen's bench_case does the same for
whole projects): the layer source and a main that calls it once on inputs written into global
arrays before the run; the output array is read back and the layer function's own cycles
(exclusive, from the TRM cycle model) are returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mcumixq.kernels.registry import INCLUDE_DIR, KERNELS_DIR, LayerCode
from mcumixq.target.boards import get_board
from mcumixq.target.build import STRICT_CFLAGS, build_elf
from mcumixq.target.emulator import run_elf

_MAIN = """#include <stdint.h>
void %(fn)s(const uint8_t *in0, const uint8_t *in1, uint8_t *out, uint8_t *scratch);
uint8_t bench_in0[%(n0)d] __attribute__((aligned(4)));
uint8_t bench_in1[%(n1)d] __attribute__((aligned(4)));
uint8_t bench_out[%(no)d] __attribute__((aligned(4)));
uint32_t bench_scratch[%(ns)d];
int main(void)
{
    %(fn)s(bench_in0, %(in1)s, bench_out, (uint8_t *)bench_scratch);
    return 0;
}
"""


@dataclass(frozen=True, slots=True)
class EmuRun:
    """Output bytes and the layer function's cycles and instructions."""

    out: bytes
    cycles: int


def run_layer_on_m4(
    code: LayerCode, in0: bytes, in1: bytes | None, out_bytes: int, work: Path
) -> EmuRun:
    """Build the layer into a Cortex-M4 ELF under `work`, run it once, return output + cycles."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "layer.c").write_text(code.source)
    main = _MAIN % {
        "fn": code.function,
        "n0": max(1, len(in0)),
        "n1": max(1, len(in1 or b"")),
        "no": max(1, out_bytes),
        "ns": max(1, (code.scratch_bytes + 3) // 4),
        "in1": "bench_in1" if in1 is not None else "0",
    }
    (work / "main.c").write_text(main)
    elf = build_elf(
        [work / "layer.c", work / "main.c"],
        work / "layer.elf",
        board=get_board("nucleo-l4r5zi"),
        include_dirs=[INCLUDE_DIR, KERNELS_DIR],
        cflags=STRICT_CFLAGS,
    )
    inputs = {"bench_in0": bytes(in0)}
    if in1 is not None:
        inputs["bench_in1"] = bytes(in1)
    res = run_elf(elf, inputs=inputs, read=["bench_out"])
    return EmuRun(out=res.symbols["bench_out"][:out_bytes], cycles=res.functions[code.function])
