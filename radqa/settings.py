"""Settings: the data dir and the optional ``radqa.toml`` inside it."""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from radqa.errors import ConfigError

DATA_DIR_ENV = "RADQA_DATA_DIR"
SETTINGS_FILE = "radqa.toml"


@dataclass(frozen=True)
class Settings:
    """What a hospital configures.

    ``operating_points`` maps ``"model_name/finding"`` to the threshold used when a prediction row
    has none. ``site_map`` maps a DICOM InstitutionName to a site name. ``claims`` holds vendor
    figures: ``{"model_name": {"accuracy": 0.974, ...}}``. ``time_zone`` (an IANA name such as
    ``Asia/Tokyo``) is where a time that names its instant (a Parquet timestamp with time zone)
    is read as a wall-clock time; None: this machine's zone. A text time with an offset
    (``09:00+09:00``) keeps its own wall-clock time whatever this is.
    """

    data_dir: Path
    operating_points: dict[str, float] = field(default_factory=dict)
    site_map: dict[str, str] = field(default_factory=dict)
    claims: dict[str, dict[str, float]] = field(default_factory=dict)
    time_zone: str | None = None

    def threshold_for(self, model_name: str, finding: str) -> float | None:
        return self.operating_points.get(f"{model_name}/{finding}")


def resolve_data_dir(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir`` if given, else ``RADQA_DATA_DIR``, else ``./data``."""
    value = cli_value or os.environ.get(DATA_DIR_ENV) or "data"
    return Path(value)


def load_settings(data_dir: Path) -> Settings:
    """Read ``radqa.toml`` from the data dir (absent file: defaults)."""
    path = Path(data_dir) / SETTINGS_FILE
    if not path.exists():
        return Settings(data_dir=Path(data_dir))
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    ops = raw.get("operating_points", {})
    for key, value in ops.items():
        if "/" not in key or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ConfigError(
                f"{path}: operating_points.{key!r} = {value!r}; expected "
                '"model_name/finding" = a number between 0 and 1'
            )
    zone = raw.get("time_zone")
    if zone is not None and not _known_zone(zone):
        raise ConfigError(
            f"{path}: time_zone = {zone!r}; expected an IANA time zone name such as 'Asia/Tokyo'"
        )
    return Settings(
        data_dir=Path(data_dir),
        time_zone=zone,
        operating_points={k: float(v) for k, v in ops.items()},
        site_map={str(k): str(v) for k, v in raw.get("site_map", {}).items()},
        claims={str(k): dict(v) for k, v in raw.get("claims", {}).items()},
    )


def _known_zone(name: object) -> bool:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", name):
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True
