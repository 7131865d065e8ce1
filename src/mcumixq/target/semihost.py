"""The few Arm semihosting calls firmware uses to print and exit (`BKPT 0xAB`, op in r0).

Board and qemu mains report through semihosting (qemu `-semihosting`); serving the same calls
in the emulator lets one image run in both. Output calls are collected, SYS_EXIT stops the run
with qemu's exit-status convention, anything else returns -1 to the firmware. The BKPT of a
semihosting call costs no cycles (the host does the work).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unicorn.arm_const import UC_ARM_REG_PC, UC_ARM_REG_R0, UC_ARM_REG_R1

SEMIHOST_BKPT = bytes((0xAB, 0xBE))  # BKPT #0xAB, Thumb
SYS_WRITEC, SYS_WRITE0, SYS_WRITE, SYS_EXIT, SYS_EXIT_EXTENDED = 0x03, 0x04, 0x05, 0x18, 0x20
ADP_STOPPED_APPLICATION_EXIT = 0x20026
MAX_STRING = 1 << 16


@dataclass
class Semihost:
    """Output and exit status of one run (mutable: one per run, never shared)."""

    output: list[str] = field(default_factory=list)
    exit_code: int | None = None

    def call(self, uc: Any, pc: int) -> bool:
        """Serve the call at `pc`; return True when the firmware asked to exit."""
        op, arg = uc.reg_read(UC_ARM_REG_R0), uc.reg_read(UC_ARM_REG_R1)
        result = 0
        if op == SYS_WRITEC:
            self.output.append(chr(uc.mem_read(arg, 1)[0]))
        elif op == SYS_WRITE0:
            self.output.append(_c_string(uc, arg))
        elif op == SYS_WRITE:
            fd, ptr, length = (
                int.from_bytes(uc.mem_read(arg + 4 * i, 4), "little") for i in range(3)
            )
            if fd in (1, 2):
                self.output.append(bytes(uc.mem_read(ptr, length)).decode("latin-1"))
        elif op in (SYS_EXIT, SYS_EXIT_EXTENDED):
            self.exit_code = _exit_code(uc, op, arg)
            return True
        else:
            result = 0xFFFF_FFFF  # -1: not supported
        uc.reg_write(UC_ARM_REG_R0, result)
        uc.reg_write(UC_ARM_REG_PC, (pc + 2) | 1)
        return False


def _c_string(uc: Any, address: int) -> str:
    out = bytearray()
    while len(out) < MAX_STRING:
        chunk = bytes(uc.mem_read(address + len(out), 64))
        end = chunk.find(0)
        if end >= 0:
            out += chunk[:end]
            break
        out += chunk
    return out.decode("latin-1")


def _exit_code(uc: Any, op: int, arg: int) -> int:
    """qemu's convention: ApplicationExit is status 0 (or the extended subcode), else 1."""
    if op == SYS_EXIT_EXTENDED:
        reason = int.from_bytes(uc.mem_read(arg, 4), "little")
        code = int.from_bytes(uc.mem_read(arg + 4, 4), "little")
        return code if reason == ADP_STOPPED_APPLICATION_EXIT else 1
    return 0 if arg == ADP_STOPPED_APPLICATION_EXIT else 1
