"""Per-layer bit-width configuration of a QAT model: a default BitPair plus overrides by FQN.

Built from `--bits 4/4` or a JSON map {"features.0": "8/8", "*": "4/4"} in one place, validated
by `numerics.BitPair` (2..8 bits, integers only), and serialised back to the same JSON so a
checkpoint records exactly what it was trained with. A layer's pair is (w_bits, a_bits) with
a_bits the width of the layer's INPUT activation (DESIGN §3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mcumixq.errors import ConfigError, InputError
from mcumixq.numerics import BitPair

DEFAULT_KEY = "*"
DEFAULT_PAIR = BitPair(8, 8)


def _as_pair(value: object, where: str) -> BitPair:
    """Parse a map value: '4/4', 'w4a4', 4 or a BitPair; anything else is a ConfigError."""
    if isinstance(value, BitPair):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ConfigError(f"{where}: bit pair {value!r} must be a string such as '4/4' or 'w4a8'")
    return BitPair.parse(str(value))


@dataclass(frozen=True, slots=True, kw_only=True)
class QuantConfig:
    """Bit pairs for every quantizable layer: `layers[fqn]` if present, else `default`."""

    default: BitPair = DEFAULT_PAIR
    layers: Mapping[str, BitPair] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.default, BitPair):
            raise ConfigError(f"default bit pair {self.default!r} must be a BitPair, e.g. '4/4'")
        for fqn, pair in self.layers.items():
            if not isinstance(pair, BitPair):
                raise ConfigError(f"layer {fqn!r}: bit pair {pair!r} must be a BitPair, e.g. '4/4'")
        object.__setattr__(self, "layers", dict(sorted(self.layers.items())))

    def pair_for(self, fqn: str) -> BitPair:
        """The bit pair of layer `fqn` (its override, else the default)."""
        return self.layers.get(fqn, self.default)

    def check_layers(self, known: set[str] | list[str]) -> None:
        """Raise ConfigError if an override names a layer the model does not have."""
        unknown = sorted(set(self.layers) - set(known))
        if unknown:
            raise ConfigError(
                f"bit map names unknown layer(s) {', '.join(unknown)}; "
                f"quantizable layers are: {', '.join(sorted(known))}"
            )

    def to_json(self) -> dict[str, str]:
        """The JSON form: {'*': 'w4a4', fqn: 'w8a8', ...}, keys sorted."""
        return {DEFAULT_KEY: str(self.default), **{k: str(v) for k, v in self.layers.items()}}

    @classmethod
    def from_json(cls, obj: object, where: str = "bit map") -> QuantConfig:
        """Parse {'*': '4/4', 'features.0': '8/8'}; '*' (optional) sets the default."""
        if not isinstance(obj, dict):
            raise ConfigError(
                f"{where}: expected a JSON object {{fqn: '4/4'}}, got {type(obj).__name__}"
            )
        default = _as_pair(obj.get(DEFAULT_KEY, "8/8"), f"{where} ['*']")
        layers = {
            str(k): _as_pair(v, f"{where} [{k!r}]") for k, v in obj.items() if k != DEFAULT_KEY
        }
        return cls(default=default, layers=layers)

    @classmethod
    def from_bits(cls, bits: str) -> QuantConfig:
        """Uniform config from '4/4', 'w4a4' or '4'."""
        return cls(default=BitPair.parse(bits))

    @classmethod
    def from_file(cls, path: str | Path) -> QuantConfig:
        """Read a JSON bit map; a missing or malformed file is an InputError."""
        p = Path(path)
        try:
            obj = json.loads(p.read_text())
        except FileNotFoundError as err:
            raise InputError(f'{p}: bit map not found; write e.g. {{"*": "4/4"}}') from err
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise InputError(f'{p}: not a JSON bit map ({err}); write e.g. {{"*": "4/4"}}') from err
        return cls.from_json(obj, where=str(p))
