"""The QAT loop learns, reports per-epoch metrics, calls back on rank 0, validates its settings."""

from __future__ import annotations

import pytest
import torch

from mcumixq.data import make_loader, synthetic_dataset
from mcumixq.errors import ConfigError
from mcumixq.models import build_model
from mcumixq.quant import QuantConfig, TrainResult, evaluate, prepare_qat, train


def _loaders() -> tuple:
    train_ds = synthetic_dataset(240, (8, 8, 1), 4, seed=2)
    test_ds = synthetic_dataset(80, (8, 8, 1), 4, seed=2)
    return (
        make_loader(train_ds, 32, shuffle=True, augment=False, seed=0),
        make_loader(test_ds, 80, shuffle=False, augment=False, seed=0),
    )


def test_float_then_qat_learns_and_reports() -> None:
    tl, el = _loaders()
    model = build_model("mlp", in_channels=1, in_size=8, num_classes=4, width=0.25)
    assert evaluate(model, el) < 0.6
    res = train(model, tl, el, epochs=4, lr=0.1, progress=False)
    assert res.test_accuracy > 0.9
    assert [e.epoch for e in res.epochs] == [1, 2, 3, 4]
    assert all(e.seconds > 0 and e.train_loss > 0 for e in res.epochs)
    qat = prepare_qat(model, QuantConfig.from_bits("4/4"), next(iter(tl))[0])
    seen: list[int] = []
    res_q = train(
        qat, tl, el, epochs=2, lr=0.01, progress=False,
        on_epoch=lambda m, r: seen.append(len(r.epochs)),
    )  # fmt: skip
    assert seen == [1, 2]
    assert res_q.test_accuracy > 0.9
    assert res_q.to_json()["seconds_per_epoch"] == pytest.approx(res_q.seconds_per_epoch)


def test_training_moves_quantizer_steps() -> None:
    tl, el = _loaders()
    model = build_model("mlp", in_channels=1, in_size=8, num_classes=4, width=0.25)
    qat = prepare_qat(model, QuantConfig.from_bits("3/3"), next(iter(tl))[0])
    before = {k: v.clone() for k, v in qat.state_dict().items() if k.endswith("step")}
    train(qat, tl, el, epochs=1, lr=0.05, progress=False)
    after = qat.state_dict()
    assert any(not torch.equal(v, after[k]) for k, v in before.items())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"epochs": 0, "lr": 0.1}, "epochs"), ({"epochs": 1, "lr": 0.0}, "lr"),
     ({"epochs": 1, "lr": 0.1, "label_smoothing": 1.5}, "label_smoothing")],
)  # fmt: skip
def test_bad_settings(kwargs: dict, match: str) -> None:
    tl, el = _loaders()
    model = build_model("mlp", in_channels=1, in_size=8, num_classes=4, width=0.25)
    with pytest.raises(ConfigError, match=match):
        train(model, tl, el, progress=False, **kwargs)


def test_result_is_frozen() -> None:
    res = TrainResult(epochs=(), test_accuracy=0.5)
    with pytest.raises(AttributeError):
        res.test_accuracy = 1.0  # type: ignore[misc]


def test_ddp_single_process_group(tmp_path: object) -> None:
    """Under an initialised process group the loop wraps the model in DDP and still learns."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0, world_size=1)
    try:
        train_ds = synthetic_dataset(240, (8, 8, 1), 4, seed=2)
        tl = make_loader(train_ds, 32, shuffle=True, augment=False, seed=0, distributed=True)
        _, el = _loaders()
        model = build_model("mlp", in_channels=1, in_size=8, num_classes=4, width=0.25)
        train(model, tl, el, epochs=4, lr=0.1, progress=False)
        qat = prepare_qat(model, QuantConfig.from_bits("4/4"), next(iter(tl))[0])
        calls: list[type] = []
        res = train(qat, tl, el, epochs=1, lr=0.01, progress=False,
                    on_epoch=lambda m, r: calls.append(type(m)))  # fmt: skip
        assert calls == [type(qat)]  # rank 0 gets the unwrapped model
        assert res.test_accuracy > 0.9
    finally:
        dist.destroy_process_group()
