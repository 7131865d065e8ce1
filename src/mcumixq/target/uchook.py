"""Register a unicorn block hook without the Python binding's per-call wrapper layers.

unicorn's `Uc.hook_add` wraps every callback twice (an exception guard and an argument
adapter), which costs about as much as the cycle accounting itself: at ~5 instructions per
block that alone would hold the emulator below DESIGN §5's 5 M instructions/s. Here the
callback is handed to `uc_hook_add` through ctypes directly. It must not raise (ctypes would
only print the exception), so callers catch errors themselves. If the binding's internals
differ from unicorn 2.1's, the public `hook_add` is used instead (slower, same results).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

RawBlockHook = Callable[[Any, int, int, Any], None]  # (engine handle, address, size, user)


def add_block_hook(uc: Any, callback: RawBlockHook) -> None:
    """Call `callback(handle, address, size, user)` at the start of every executed block."""
    import unicorn as U

    try:
        from unicorn.unicorn_py3 import unicorn as binding

        lib, cfunc, hook_handle = binding.uclib, binding.HOOK_CODE_CFUNC, binding.uc_hook_h
        engine, keep = uc._uch, uc._callbacks
    except (ImportError, AttributeError):
        uc.hook_add(
            U.UC_HOOK_BLOCK, lambda _uc, address, size, user: callback(0, address, size, user)
        )
        return
    fptr = cfunc(callback)
    handle = hook_handle()
    status = lib.uc_hook_add(
        engine,
        ctypes.byref(handle),
        U.UC_HOOK_BLOCK,
        fptr,
        ctypes.c_void_p(0),
        ctypes.c_uint64(1),
        ctypes.c_uint64(0),
    )
    if status != U.UC_ERR_OK:
        raise U.UcError(status)
    keep[handle.value] = fptr  # the engine holds a raw pointer: keep the ctypes object alive
