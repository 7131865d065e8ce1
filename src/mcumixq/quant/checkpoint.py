"""Save and load a model checkpoint directory: `model.pt` (state_dict) + `config.json`.

`config.json` records how to rebuild the module (zoo model name and geometry) and, for a QAT
model, its QuantConfig; loading rebuilds the float model, re-runs `prepare_qat` (same graph
rewrite, same parameter names) and loads the state_dict with `weights_only=True`, so a
checkpoint can never run code. Each file is written atomically (temp file + rename), so Ctrl-C
leaves the previous checkpoint intact; anything unreadable is one InputError line.
"""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mcumixq.errors import ConfigError, InputError, MqError
from mcumixq.files import atomic_write, write_json
from mcumixq.models import build_model
from mcumixq.quant.config import QuantConfig
from mcumixq.quant.prepare import prepare_qat

FORMAT = "mcumixq.checkpoint"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.pt"
CONFIG_FILE = "config.json"
# What torch.load / load_state_dict raise on truncated, foreign or mismatched files.
_LOAD_ERRORS = (
    RuntimeError, EOFError, OSError, ValueError, KeyError, TypeError, AttributeError,
    pickle.UnpicklingError, zipfile.BadZipFile,
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    """What `models.build_model` needs to rebuild the float module."""

    name: str
    in_channels: int
    in_size: tuple[int, int]
    num_classes: int
    width: float

    def build(self) -> nn.Module:
        """A freshly initialised float model of this spec."""
        return build_model(
            self.name,
            in_channels=self.in_channels,
            in_size=self.in_size,
            num_classes=self.num_classes,
            width=self.width,
        )

    def example_input(self, batch: int = 1) -> torch.Tensor:
        """A zero input batch (float NCHW) of the model's geometry."""
        return torch.zeros(batch, self.in_channels, *self.in_size)

    def to_json(self) -> dict[str, Any]:
        """Plain dict for config.json."""
        return {**asdict(self), "in_size": list(self.in_size)}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ModelSpec:
        """Inverse of `to_json`."""
        size = obj["in_size"]
        return cls(
            name=str(obj["name"]),
            in_channels=int(obj["in_channels"]),
            in_size=(int(size[0]), int(size[1])),
            num_classes=int(obj["num_classes"]),
            width=float(obj["width"]),
        )


def save_checkpoint(
    out_dir: str | Path,
    model: nn.Module,
    *,
    spec: ModelSpec,
    config: QuantConfig | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write `model.pt` and `config.json` into `out_dir` (config None: a float model)."""
    out = Path(out_dir)
    module = getattr(model, "module", model)  # unwrap DistributedDataParallel
    with atomic_write(out / WEIGHTS_FILE, "wb") as fh:
        torch.save(module.state_dict(), fh)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": spec.to_json(),
        "quant": None if config is None else config.to_json(),
        **(extra or {}),
    }
    write_json(out / CONFIG_FILE, doc)


def read_checkpoint_config(ckpt_dir: str | Path) -> dict[str, Any]:
    """The parsed and checked `config.json` of a checkpoint directory."""
    path = Path(ckpt_dir) / CONFIG_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InputError(
            f"{ckpt_dir}: not a checkpoint (no {CONFIG_FILE}); create one with 'mcumixq train'"
        ) from err
    except NotADirectoryError as err:
        raise InputError(
            f"{ckpt_dir}: a file, not a checkpoint directory; pass the directory written by "
            "'mcumixq train'"
        ) from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(
            f"{path}: corrupt checkpoint config ({err}); re-run 'mcumixq train'"
        ) from err
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{path}: not an mcumixq checkpoint; create one with 'mcumixq train'")
    if doc.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"{path}: checkpoint format_version {doc.get('format_version')!r} is not "
            f"{FORMAT_VERSION}; re-run 'mcumixq train' with this version"
        )
    return doc


def checkpoint_spec(ckpt_dir: str | Path) -> tuple[ModelSpec, QuantConfig | None]:
    """The model spec and QuantConfig (None for a float model) recorded in a checkpoint."""
    doc = read_checkpoint_config(ckpt_dir)
    try:
        spec = ModelSpec.from_json(doc["model"])
        config = None if doc["quant"] is None else QuantConfig.from_json(doc["quant"])
    except (KeyError, TypeError, ValueError, IndexError, ConfigError) as err:
        raise InputError(f"{ckpt_dir}/{CONFIG_FILE}: bad model/quant entry ({err})") from err
    return spec, config


def load_checkpoint(ckpt_dir: str | Path) -> tuple[nn.Module, QuantConfig | None]:
    """Rebuild the model of a checkpoint: (model in eval mode, QuantConfig or None if float)."""
    spec, config = checkpoint_spec(ckpt_dir)
    try:
        model = spec.build()
        if config is not None:
            model = prepare_qat(model, config, spec.example_input())
    except MqError as err:
        raise InputError(f"{ckpt_dir}: cannot rebuild the model ({err})") from err
    path = Path(ckpt_dir) / WEIGHTS_FILE
    try:
        with warnings.catch_warnings():  # a foreign pickle's protocol warning is not our line
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except FileNotFoundError as err:
        raise InputError(f"{path}: missing; the checkpoint is incomplete, re-run training") from err
    except _LOAD_ERRORS as err:
        raise InputError(
            f"{path}: corrupt or foreign weights ({type(err).__name__}); re-run training"
        ) from err
    return model.eval(), config
