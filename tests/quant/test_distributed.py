"""The data-parallel helpers: identities without a group, real collectives in a 1-rank group.

Two-rank behaviour (shards, all-reduced gradients, synced BN buffers) is exercised end to end by
tests/cli/test_train_ddp.py under torchrun.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from mcumixq.data import make_loader, synthetic_dataset
from mcumixq.errors import ConfigError
from mcumixq.models import build_model
from mcumixq.quant import distributed, evaluate


@pytest.fixture
def group(tmp_path: Path) -> Iterator[None]:
    """A one-process gloo group (file rendezvous: no port needed)."""
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{tmp_path}/store", rank=0, world_size=1
    )
    try:
        yield
    finally:
        distributed.leave()


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("mlp", in_channels=1, in_size=8, num_classes=4, width=0.25)


def test_without_a_group_every_helper_is_the_identity() -> None:
    assert not distributed.is_distributed()
    assert (distributed.rank(), distributed.world_size()) == (0, 1)
    assert distributed.all_sum([1.5, 2]) == [1.5, 2.0]
    assert distributed.all_gather_int(7) == (7,)
    model = _model()
    assert distributed.wrap(model) is model
    distributed.sync_buffers(model)
    distributed.barrier()
    distributed.leave()


def test_digest_tracks_weights_and_buffers() -> None:
    a, b = _model(), _model()
    assert distributed.state_digest(a) == distributed.state_digest(b)
    assert distributed.all_gather_digest(a) == (distributed.state_digest(a),)
    with torch.no_grad():
        next(b.parameters())[0].flatten()[0] += 1e-3
    assert distributed.state_digest(a) != distributed.state_digest(b)
    bn = torch.nn.BatchNorm1d(3)
    before = distributed.state_digest(bn)
    bn(torch.randn(4, 3))  # training-mode forward updates the running stats (buffers)
    assert distributed.state_digest(bn) != before


@pytest.mark.usefixtures("group")
def test_one_rank_group_collectives() -> None:
    assert distributed.is_distributed() and distributed.world_size() == 1
    assert distributed.all_sum([3, 4.25]) == [3.0, 4.25]
    assert distributed.all_gather_int(5) == (5,)
    model = _model()
    assert isinstance(distributed.wrap(model), torch.nn.parallel.DistributedDataParallel)
    distributed.sync_buffers(torch.nn.BatchNorm1d(2))
    distributed.join(0, 1)  # already joined: a no-op
    test = synthetic_dataset(70, (8, 8, 1), 4, seed=3)
    loader = make_loader(test, 32, shuffle=False, augment=False, seed=0)
    assert evaluate(model, loader, sharded=True) == evaluate(model, loader)


@pytest.mark.parametrize(
    ("rank", "world", "match"),
    [(0, 0, "WORLD_SIZE=0 must be >= 1"), (2, 2, "RANK=2 is outside the world of 2"),
     (-1, 2, "RANK=-1 is outside")],
)  # fmt: skip
def test_check_world(rank: int, world: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        distributed.check_world(rank, world)


def test_join_without_rendezvous_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match="cannot join the process group as rank 0 of 1"):
        distributed.join(0, 1)
    assert not distributed.is_distributed()
