"""QuantConfig: parsing of --bits and JSON bit maps, validation of every bit-width."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcumixq.errors import ConfigError, InputError
from mcumixq.numerics import BitPair
from mcumixq.quant.config import QuantConfig


def test_uniform_bits_parse() -> None:
    assert QuantConfig.from_bits("4/8").default == BitPair(4, 8)
    assert QuantConfig.from_bits("w2a4").pair_for("anything") == BitPair(2, 4)


@pytest.mark.parametrize("bad", ["1/4", "9/4", "4.5", "4/4.5", "w4", "", "x/y"])
def test_illegal_bits_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError):
        QuantConfig.from_bits(bad)


def test_map_overrides_default_and_round_trips() -> None:
    cfg = QuantConfig.from_json({"*": "4/4", "features.0": "8/8", "classifier.1": "w2a8"})
    assert cfg.pair_for("features.0") == BitPair(8, 8)
    assert cfg.pair_for("features.3") == BitPair(4, 4)
    assert cfg.to_json() == {"*": "w4a4", "classifier.1": "w2a8", "features.0": "w8a8"}
    assert QuantConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.parametrize("value", [1, 9, 4.5, "4.5", None, [4, 4]])
def test_map_rejects_bad_values(value: object) -> None:
    with pytest.raises(ConfigError):
        QuantConfig.from_json({"features.0": value})


def test_unknown_layer_is_named() -> None:
    cfg = QuantConfig.from_json({"features.99": "4/4"})
    with pytest.raises(ConfigError, match=r"features\.99"):
        cfg.check_layers({"features.0", "classifier.1"})


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        QuantConfig.from_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not a JSON bit map"):
        QuantConfig.from_file(bad)
    good = tmp_path / "map.json"
    good.write_text(json.dumps({"*": "2/2", "features.0": "8/8"}))
    assert QuantConfig.from_file(good).pair_for("features.0") == BitPair(8, 8)
