"""CLI exit codes (STYLE §2): 0 ok, 1 verification failed, 2 bad input, 130 Ctrl-C."""

from __future__ import annotations

EXIT_OK = 0
EXIT_VERIFICATION = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
