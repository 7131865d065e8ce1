"""The public API of `mcumixq`: lazy, complete, and its multi-step helpers do what they say."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import mcumixq


def test_import_mcumixq_stays_light() -> None:
    """`import mcumixq` must not pull torch, numpy or unicorn (CLI start-up, lean scripts)."""
    code = (
        "import sys, mcumixq; "
        "print(sorted(m for m in ('torch', 'numpy', 'unicorn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves_to_its_module() -> None:
    assert set(mcumixq.__all__) == {"__version__", *mcumixq._EXPORTS}
    for name, module in mcumixq._EXPORTS.items():
        obj = getattr(mcumixq, name)
        assert getattr(obj, "__module__", module).startswith(module.rsplit(".", 1)[0]), name
    assert set(mcumixq._EXPORTS) <= set(dir(mcumixq))


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        mcumixq.nosuch  # noqa: B018


def test_errors_are_the_project_hierarchy() -> None:
    from mcumixq import errors

    assert mcumixq.InputError is errors.InputError
    assert issubclass(mcumixq.BudgetError, mcumixq.ConfigError)
    assert mcumixq.VerificationError.exit_code == 1 and mcumixq.MqError.exit_code == 2


def test_graph_accuracy_matches_the_reference_argmax() -> None:
    from mcumixq.ir.random_graph import tiny_cnn

    rng = np.random.default_rng(3)
    graph = tiny_cnn(rng, 8, 8, in_shape=(6, 6, 1))
    images = rng.integers(0, 256, size=(12, 6, 6, 1), dtype=np.uint8)
    logits = mcumixq.run_graph(graph, mcumixq.pixels_to_input(images, 8)).reshape(12, -1)
    labels = logits.argmax(axis=1)
    assert mcumixq.graph_accuracy(graph, images, labels) == 1.0
    assert mcumixq.graph_accuracy(graph, images, (labels + 1) % 10) == 0.0


def test_cost_model_for_prices_the_8bit_structure() -> None:
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10)
    )
    predictor = mcumixq.Predictor(fits={})
    cost = mcumixq.cost_model_for(model, torch.rand(8, 1, 6, 6), predictor)
    assert cost.weighted == ("0", "3")
    assert cost.predictor is predictor
    assert all(op.w_bits in (None, 8) for op in cost.graph.ops)


def test_no_public_name_is_shadowed_by_a_subpackage() -> None:
    """Importing `mcumixq.search.x` sets `mcumixq.search` to the package: a function of that
    name would silently become a module once anything imported the subpackage."""
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(mcumixq.__path__)}
    assert not submodules & set(mcumixq._EXPORTS)
