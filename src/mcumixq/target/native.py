"""Optional C block counter: the profiler's hot path compiled with the host C compiler.

The pure-Python hook costs one ctypes transition per executed block (~1 µs), which caps tight
loops of ~5 instructions near 5 M instructions/s. This module compiles a 60-line C hook (a hash
table of (previous block, block) pairs with counts and precomputed costs) into a shared library
with the host `cc`/`gcc`, once per process, in a private temporary directory. The C hook calls
back into Python only for a pair it has not seen (priced by `BlockProfiler` exactly as the
Python hook does) and for flagged call/return pairs, so results are identical (tests run both).
Without a host compiler `load_native` returns None and the emulator keeps the Python hook.
"""

from __future__ import annotations

import ctypes
import functools
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from mcumixq.target.profiler import CYCLE_BITS, BlockProfiler

TABLE_BITS = 16  # 65536 pair slots; a run needing more than 3/4 of them stops with an error

C_SOURCE = r"""
#include <stdint.h>
typedef void (*mq_stop_fn)(void *uc);
typedef int64_t (*mq_cold_fn)(uint64_t prev_id, uint64_t address, uint32_t size);
typedef void (*mq_flag_fn)(int64_t slot, uint64_t address);

/* A (previous block, block) pair; block ids are address << 16 | size, never 0. */
typedef struct { uint64_t prev_id, cur_id, count, cycles, insns, flag; } mq_slot;

typedef struct {
  mq_slot *slots;
  uint64_t mask, used, prev_id, cycles, insns, limit, limit_hit;
  mq_stop_fn stop;
  mq_cold_fn cold;
  mq_flag_fn flagged;
} mq_state;

static uint64_t mq_slot_of(const mq_state *s, uint64_t prev_id, uint64_t cur_id) {
  uint64_t h = (prev_id * 0x9E3779B97F4A7C15ull) ^ (cur_id * 0xBF58476D1CE4E5B9ull);
  uint64_t i = (h ^ (h >> 31)) & s->mask;
  while (s->slots[i].cur_id != 0 &&
         (s->slots[i].cur_id != cur_id || s->slots[i].prev_id != prev_id)) {
    i = (i + 1) & s->mask;
  }
  return i;
}

int64_t mq_insert(mq_state *s, uint64_t prev_id, uint64_t cur_id, uint64_t cycles,
                  uint64_t insns, uint64_t flag) {
  if (4 * (s->used + 1) > 3 * (s->mask + 1)) return -1;
  uint64_t i = mq_slot_of(s, prev_id, cur_id);
  mq_slot *e = &s->slots[i];
  if (e->cur_id == 0) s->used++;
  e->prev_id = prev_id; e->cur_id = cur_id; e->cycles = cycles; e->insns = insns;
  e->flag = flag;
  return (int64_t)i;
}

void mq_block_hook(void *uc, uint64_t address, uint32_t size, void *user) {
  mq_state *s = (mq_state *)user;
  uint64_t cur = (address << 16) | size;
  mq_slot *e = &s->slots[mq_slot_of(s, s->prev_id, cur)];
  if (e->cur_id == 0) {
    int64_t k = s->cold(s->prev_id, address, size);
    if (k < 0) { s->stop(uc); return; }
    e = &s->slots[k];
  }
  e->count++;
  s->cycles += e->cycles;
  s->insns += e->insns;
  s->prev_id = cur;
  if (e->flag) s->flagged((int64_t)(e - s->slots), address);
  if (s->insns > s->limit) { s->limit_hit = 1; s->stop(uc); }
}
"""

_COLD = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint32)
_FLAG = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_uint64)


class _Slot(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_uint64) for n in ("prev_id", "cur_id", "count", "cycles", "insns", "flag")
    ]


class _State(ctypes.Structure):
    _fields_ = [
        ("slots", ctypes.POINTER(_Slot)),
        *[
            (n, ctypes.c_uint64)
            for n in ("mask", "used", "prev_id", "cycles", "insns", "limit", "limit_hit")
        ],
        ("stop", ctypes.c_void_p),
        ("cold", _COLD),
        ("flagged", _FLAG),
    ]


@functools.cache  # one compile per process; the library is immutable once loaded
def load_native() -> ctypes.CDLL | None:
    """Compile and load the C counter, or None when no host C compiler works."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    with tempfile.TemporaryDirectory(prefix="mcumixq-hook-") as tmp:
        src, lib = Path(tmp) / "mq_hook.c", Path(tmp) / "mq_hook.so"
        src.write_text(C_SOURCE)
        argv = [
            cc,
            "-O2",
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Wshadow",
            "-Werror",
            "-shared",
            "-fPIC",
        ]
        try:
            proc = subprocess.run(
                [*argv, str(src), "-o", str(lib)], capture_output=True, check=False, timeout=120
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        if proc.returncode != 0:
            return None
        try:
            handle = ctypes.CDLL(str(lib))  # stays mapped after the directory is removed
        except OSError:  # e.g. a noexec temp directory: keep the Python hook
            return None
    handle.mq_insert.restype = ctypes.c_int64
    handle.mq_insert.argtypes = [ctypes.POINTER(_State), *[ctypes.c_uint64] * 5]
    return handle


class NativeCounter:
    """Drives a `BlockProfiler` from the C hook; keeps the ctypes objects alive for the run."""

    def __init__(self, lib: ctypes.CDLL, profiler: BlockProfiler, uc: Any, limit: int) -> None:
        from unicorn.unicorn_py3 import unicorn as binding

        self._lib, self._profiler, self._uc = lib, profiler, uc
        self._slots = (_Slot * (1 << TABLE_BITS))()
        self._records: dict[int, list[Any]] = {}
        self._slot_of: dict[int, int] = {}  # id(record) -> slot
        self._cold_cb, self._flag_cb = _COLD(self._cold), _FLAG(self._flagged)
        stop = ctypes.cast(binding.uclib.uc_emu_stop, ctypes.c_void_p).value
        self.state = _State(
            slots=self._slots,
            mask=(1 << TABLE_BITS) - 1,
            limit=limit,
            stop=stop,
            cold=self._cold_cb,
            flagged=self._flag_cb,
        )
        profiler.totals = lambda: (self.state.cycles, self.state.insns)
        profiler.last_block = lambda: self.state.prev_id >> 16
        profiler.flag_listener = self._raise_flag

    def _cold(self, prev_id: int, address: int, size: int) -> int:
        record = self._profiler.price_pair(self._uc, prev_id, address, size)
        if record is None:
            return -1
        packed = record[1]
        slot = self._lib.mq_insert(
            ctypes.byref(self.state),
            prev_id,
            address << 16 | size,
            packed & ((1 << CYCLE_BITS) - 1),
            packed >> CYCLE_BITS,
            int(record[4]),
        )
        if slot < 0:
            self._profiler.error = RuntimeError("more distinct block pairs than the C table holds")
            return -1
        self._records[slot] = record
        self._slot_of[id(record)] = slot
        return slot

    def _flagged(self, slot: int, address: int) -> None:
        try:
            self._profiler.on_flagged(self._uc, self._records[slot], address, self.state.cycles)
        # Broad on purpose: a ctypes callback cannot raise; the emulator re-raises it.
        except Exception as err:
            self._profiler.error = err
            self._uc.emu_stop()

    def _raise_flag(self, record: list[Any]) -> None:
        slot = self._slot_of.get(id(record))
        if slot is not None:
            self._slots[slot].flag = 1

    def install(self) -> None:
        """Register the C hook with unicorn; copy counts back into the records after the run."""
        import unicorn as U
        from unicorn.unicorn_py3 import unicorn as binding

        handle = binding.uc_hook_h()
        status = binding.uclib.uc_hook_add(
            self._uc._uch,
            ctypes.byref(handle),
            U.UC_HOOK_BLOCK,
            ctypes.cast(self._lib.mq_block_hook, ctypes.c_void_p),
            ctypes.c_void_p(ctypes.addressof(self.state)),
            ctypes.c_uint64(1),
            ctypes.c_uint64(0),
        )
        if status != U.UC_ERR_OK:
            raise U.UcError(status)
        self._profiler.start()

    def collect(self) -> None:
        """Copy the C counts into the profiler's records (call once, after the run)."""
        for slot, record in self._records.items():
            record[0] = self._slots[slot].count
        self._profiler.limit_hit = bool(self.state.limit_hit)
