"""The one error hierarchy of mcumixq; each class carries its process exit code.

Library code raises these with one line that says what went wrong, the offending value and the
fix; `cli/` catches `MqError` once and prints the line (traceback only with `-v`). Foreign errors
(zipfile, numpy, elftools, unicorn, torch) are wrapped where they enter:
`raise InputError(...) from err`.
"""

from __future__ import annotations


class MqError(Exception):
    """Base of every error mcumixq raises on purpose (exit status 2)."""

    exit_code = 2


class ConfigError(MqError):
    """A setting is out of its legal range: bit-widths, budgets, shapes, board names."""


class InputError(MqError):
    """A file or directory given by the user is missing, corrupt or foreign (.mqz, ELF, dataset)."""


class UnsupportedModelError(MqError):
    """A PyTorch model uses a layer mcumixq cannot quantize or deploy (names the FQN and op)."""


class ToolchainError(MqError):
    """No usable cross compiler, or the build failed (first compiler error line + install hint)."""


class EmulationError(MqError):
    """The emulated firmware faulted, lacks `_start`, or exceeded its instruction budget."""


class BudgetError(ConfigError):
    """A model or bit-width choice does not fit a flash/SRAM/latency budget (names the budget)."""


class VerificationError(MqError):
    """Device output differs from the reference, or a promised budget was missed (exit 1)."""

    exit_code = 1
