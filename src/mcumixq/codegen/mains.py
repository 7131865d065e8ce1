"""The firmware around the model: embedded samples, the self-test main and the board main.

The self-test main follows DESIGN §7 (run every embedded sample, `mq_status` = mismatches, BKPT);
the board main times each inference with DWT CYCCNT and prints the predicted class over
semihosting. Expected outputs are computed on the host by the caller (mcumixq.ir.reference) and
embedded packed, so the device compares bytes; padding bits of sub-byte pixels are masked out.
"""

from __future__ import annotations

import numpy as np

from mcumixq.codegen.render import c_bytes, render
from mcumixq.errors import ConfigError
from mcumixq.ir.graph import Graph
from mcumixq.packing.layout import pack_tensor, pixel_bytes, storage_bits, tensor_bytes

MAIN_FILES = ("samples.h", "samples.c", "main_selftest.c", "main_board.c")
SAMPLES_ARRAY = "selftest_outputs"  # where the self-test leaves its outputs for the host


def _stride(n: int) -> int:
    return max(4, (n + 3) // 4 * 4)


def input_stride(graph: Graph) -> int:
    """Bytes between embedded input samples: the packed input padded to whole words."""
    t = graph.tensors[graph.input]
    return _stride(tensor_bytes(t.shape, t.bits))


def output_stride(graph: Graph) -> int:
    """Bytes between samples in `selftest_outputs` (word padded, as the self-test lays them)."""
    t = graph.tensors[graph.output]
    return _stride(tensor_bytes(t.shape, t.bits))


def valid_bits(channels: int, a_bits: int) -> bytes:
    """Per byte of one packed pixel: the mask of bits that hold values (not padding)."""
    sb = storage_bits(a_bits)
    nbytes = pixel_bytes(channels, a_bits)
    used = channels * sb
    return bytes(min(0xFF, (1 << max(0, min(8, used - 8 * i))) - 1) for i in range(nbytes))


def _check_samples(graph: Graph, samples: np.ndarray, expected: np.ndarray) -> None:
    tin, tout = graph.tensors[graph.input], graph.tensors[graph.output]
    if samples.ndim != len(tin.shape) + 1 or tuple(samples.shape[1:]) != tuple(tin.shape):
        raise ConfigError(
            f"samples have shape {samples.shape}; expected (N, {', '.join(map(str, tin.shape))})"
        )
    if expected.shape != (samples.shape[0], *tout.shape):
        raise ConfigError(
            f"expected outputs have shape {expected.shape}; need {(samples.shape[0], *tout.shape)}"
        )
    if samples.shape[0] < 1:
        raise ConfigError("at least one self-test sample is needed; pass samples with N >= 1")


def expected_classes(expected: np.ndarray) -> list[int]:
    """argmax over the channels of each sample's first output pixel (first index on ties)."""
    flat = expected.reshape(expected.shape[0], -1, expected.shape[-1])[:, 0, :]
    return [int(np.argmax(row)) for row in flat]


def render_mains(graph: Graph, samples: np.ndarray, expected: np.ndarray) -> dict[str, str]:
    """Return the four harness files; `samples` [N, *input shape], `expected` [N, *output shape]."""
    _check_samples(graph, samples, expected)
    tin, tout = graph.tensors[graph.input], graph.tensors[graph.output]
    in_stride, out_stride = input_stride(graph), output_stride(graph)

    def rows(values: np.ndarray, bits: int, stride: int) -> list[str]:
        out = []
        for v in values:
            data = pack_tensor(v, bits)
            out.append(c_bytes(data + bytes(stride - len(data)), indent="        "))
        return out

    n = int(samples.shape[0])
    files = {
        "samples.h": render(
            "samples.h.in", n_samples=n, input_stride=in_stride, output_stride=out_stride
        ),
        "samples.c": render(
            "samples.c.in",
            inputs=rows(samples, tin.bits, in_stride),
            expected=rows(expected, tout.bits, out_stride),
            valid_bits=c_bytes(valid_bits(tout.channels, tout.bits)),
            expected_class=", ".join(str(c) for c in expected_classes(expected)),
        ),
        "main_selftest.c": render("main_selftest.c.in"),
        "main_board.c": render("main_board.c.in"),
    }
    return files
