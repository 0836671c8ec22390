"""Settings: the data dir and the optional ``radqa.toml`` inside it."""

from __future__ import annotations

import difflib
import functools
import os
import re
import tomllib
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest.contract import names_a_person
from radqa.errors import ConfigError

DATA_DIR_ENV = "RADQA_DATA_DIR"
SETTINGS_FILE = "radqa.toml"

#: The top-level keys of radqa.toml: two plain keys and three sections.
_PLAIN_KEYS = ("time_zone", "extra_columns")
TOP_LEVEL = (*_PLAIN_KEYS, "operating_points", "site_map", "claims")
_EXPECTED = (
    'time_zone = "Area/City" and extra_columns = ["column", ...] (before the first [section]), '
    '[operating_points], [site_map], [claims."MODEL"]'
)
#: The metrics a vendor claim may name (those :func:`metrics.claim_check` checks; a test keeps
#: the two lists equal, so that this module does not import the statistics).
CLAIM_METRICS = (
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "accuracy",
    "agreement",
    "auc",
    "kappa",
)


@dataclass(frozen=True)
class Settings:
    """What a hospital configures.

    ``operating_points`` maps ``"model_name/finding"`` to the threshold used when a prediction row
    has none. ``site_map`` maps a DICOM InstitutionName to a site name (matched ignoring case and
    runs of white space, :func:`institution_key`; :meth:`site_for`). ``claims`` holds vendor
    figures: ``{"model_name": {"accuracy": 0.974, ...}}``. ``time_zone`` (an IANA name such as
    ``Asia/Tokyo``) is where a time that names its instant (a Parquet timestamp with time zone)
    is read as a wall-clock time; None: this machine's zone. A text time with an offset
    (``09:00+09:00``) keeps its own wall-clock time whatever this is. ``extra_columns`` lists
    the columns beyond the contract that ingest keeps in ``extra`` (:meth:`keeps_extra`); None:
    every one whose name does not say it identifies a person.
    """

    data_dir: Path
    operating_points: dict[str, float] = field(default_factory=dict)
    site_map: dict[str, str] = field(default_factory=dict)
    claims: dict[str, dict[str, float]] = field(default_factory=dict)
    time_zone: str | None = None
    extra_columns: tuple[str, ...] | None = None

    @property
    def extra_column_keys(self) -> frozenset[str] | None:
        """The ``extra_columns`` as a file's header is matched: lower case, without surrounding
        spaces; None without the list."""
        if self.extra_columns is None:
            return None
        return frozenset(name.strip().lower() for name in self.extra_columns)

    def keeps_extra(self, column: str) -> bool:
        """Whether the list lets ingest keep extra column ``column`` (lower case, as
        :attr:`ingest.readers.Source.extras` names it): any without the list, else a listed one.
        A column whose name says it identifies a person is not kept either way
        (:func:`ingest.validate.kept_extras`)."""
        keys = self.extra_column_keys
        return keys is None or column in keys

    def threshold_for(self, model_name: str, finding: str) -> float | None:
        return self.operating_points.get(f"{model_name}/{finding}")

    def site_for(self, institution: str) -> str | None:
        """The site the ``[site_map]`` gives a DICOM InstitutionName, or None: 'Osaka Univ Hosp'
        and 'OSAKA  UNIV HOSP ' find the entry "OSAKA UNIV HOSP" (:func:`institution_key`)."""
        key = institution_key(institution)
        return next((v for k, v in self.site_map.items() if institution_key(k) == key), None)


def institution_key(name: str) -> str:
    """What an InstitutionName is matched on: its words, case folded. Systems of one hospital
    write its name in different cases and spacings, and an unmatched name becomes a site of its
    own (one hospital shown as two)."""
    return " ".join(name.split()).casefold()


def resolve_data_dir(cli_value: str | os.PathLike[str] | None = None) -> Path:
    """``--data-dir`` if given, else ``RADQA_DATA_DIR``, else ``./data``."""
    value = cli_value or os.environ.get(DATA_DIR_ENV) or "data"
    return Path(value)


def load_settings(data_dir: Path) -> Settings:
    """Read ``radqa.toml`` from the data dir (absent file: defaults).

    Raises
    ------
    ConfigError
        The file cannot be read, is not UTF-8 or not TOML, or has a key it should not have or a
        value of the wrong type or range; the one-line message names the file, the key, the
        value found and what is expected.
    """
    path = Path(data_dir) / SETTINGS_FILE
    if not path.exists():
        return Settings(data_dir=Path(data_dir))
    try:
        raw = tomllib.loads(_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    _check_names(path, raw)
    points: dict[str, float] = {}
    ops = _section(path, raw, "operating_points", '"model_name/finding" = threshold')
    for key, value in ops.items():
        if (
            "/" not in key
            or isinstance(value, bool)  # true is an int, 1
            or not isinstance(value, int | float)
            or not 0 <= value <= 1
        ):
            raise ConfigError(
                f"{path}: operating_points.{key!r} = {value!r}; expected "
                '"model_name/finding" = a number between 0 and 1'
            )
        points[key] = float(value)
    zone = raw.get("time_zone")
    if zone is not None and not _known_zone(zone):
        local = "; leave time_zone out for this machine's zone" if zone == "localtime" else ""
        raise ConfigError(
            f"{path}: time_zone = {zone!r}; expected an IANA time zone name such as "
            f"'Asia/Tokyo'{local}"
        )
    return Settings(
        data_dir=Path(data_dir),
        time_zone=zone,
        operating_points=points,
        site_map=_site_map(path, _section(path, raw, "site_map", '"InstitutionName" = "site"')),
        claims=_claims(path, _section(path, raw, "claims", '[claims."MODEL"] tables')),
        extra_columns=_extra_columns(path, raw.get("extra_columns")),
    )


def _text(path: Path) -> str:
    """The file's text: UTF-8, with or without a byte-order mark (Windows Notepad's "UTF-8 with
    BOM"; tomllib refuses the mark as an invalid statement)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the settings: {exc.strerror}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x}); save the "
            "file as UTF-8"
        ) from exc


def _section(path: Path, raw: dict[str, object], name: str, shape: str) -> dict[str, object]:
    """Section ``name`` of the file ({} when absent); refused when it is not a table."""
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {name} = {value!r}; expected a section [{name}] of {shape}")
    return value


def _site_map(path: Path, table: dict[str, object]) -> dict[str, str]:
    sites: dict[str, str] = {}
    for key, value in table.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"{path}: site_map.{_key(key)} = {value!r}; expected the site's name as text, "
                'such as "Osaka University Hospital"'
            )
        same = next((k for k in sites if institution_key(k) == institution_key(key)), None)
        if same is not None and sites[same] != value:
            raise ConfigError(
                f"{path}: site_map.{_key(same)} = {sites[same]!r} and site_map.{_key(key)} = "
                f"{value!r} name one institution (case and spaces are ignored) but two sites; "
                "keep one"
            )
        sites[key] = value
    return sites


def _extra_columns(path: Path, value: object) -> tuple[str, ...] | None:
    """The ``extra_columns`` list, or None when the file has none. A listed column whose name
    says it identifies a person is refused: ingest would not keep it (that rule comes first),
    and a list that says it keeps one would mislead whoever reads the file."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ConfigError(
            f"{path}: extra_columns = {value!r}; expected a list of the extra columns to keep, "
            'such as extra_columns = ["protocol", "contrast_agent"] ([] keeps none)'
        )
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"{path}: extra_columns holds {name!r}; expected a column's name as text, such "
                'as "protocol"'
            )
        if names_a_person(name):
            raise ConfigError(
                f"{path}: extra_columns holds {name!r}, whose name says it identifies a person: "
                "such a column is never stored (of the ids, only patient_id and reader_id are "
                "kept, as pseudonyms); remove it from the list"
            )
    return tuple(value)


def _claims(path: Path, table: dict[str, object]) -> dict[str, dict[str, float]]:
    claims: dict[str, dict[str, float]] = {}
    for model, figures in table.items():
        if not isinstance(figures, dict):
            raise ConfigError(
                f"{path}: claims.{_key(model)} = {figures!r}; expected a section "
                f"[claims.{_key(model)}] of metric = figure, such as accuracy = 0.974"
            )
        for metric, value in figures.items():
            low = -1 if metric == "kappa" else 0
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not low <= value <= 1
            ):
                raise ConfigError(
                    f"{path}: claims.{_key(model)}.{metric} = {value!r}; expected a number "
                    f"between {low} and 1, a fraction such as 0.974 (not a percentage)"
                )
        claims[model] = {metric: float(value) for metric, value in figures.items()}
    return claims


def _check_names(path: Path, raw: dict[str, object]) -> None:
    """Refuse a key or section radqa.toml does not have: a misspelled one would be ignored, and
    the thresholds or times it was meant to set silently stored with the defaults. A top-level
    key written after a section header lands inside that section: that is refused too."""
    for key, value in raw.items():
        if key in TOP_LEVEL:
            continue
        section = isinstance(value, dict)
        found = f"section [{key}]" if section else f"key {key} = {value!r}"
        close = difflib.get_close_matches(key.lower(), TOP_LEVEL, n=1)
        hint = ""
        if close:
            hint = f" (did you mean {close[0] if close[0] in _PLAIN_KEYS else f'[{close[0]}]'}?)"
        raise ConfigError(f"{path}: unknown {found}{hint}; expected {_EXPECTED}")
    tables: list[tuple[str, object]] = [
        (name, raw[name]) for name in ("operating_points", "site_map", "claims") if name in raw
    ]
    claims = raw.get("claims")
    if isinstance(claims, dict):
        tables += [(f"claims.{_key(m)}", v) for m, v in claims.items() if isinstance(v, dict)]
    for name, table in tables:
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            if key in TOP_LEVEL:
                raise ConfigError(
                    f"{path}: [{name}] holds {key} = {value!r}: a line after a [section] header "
                    f"belongs to that section; move {key} above the first [section]"
                )
    if isinstance(claims, dict):
        for model, figures in claims.items():
            if not isinstance(figures, dict):
                continue
            for metric, value in figures.items():
                if metric not in CLAIM_METRICS:
                    close = difflib.get_close_matches(metric.lower(), CLAIM_METRICS, n=1)
                    hint = f" (did you mean {close[0]}?)" if close else ""
                    raise ConfigError(
                        f"{path}: [claims.{_key(model)}] has an unknown metric {metric} = "
                        f"{value!r}{hint}; expected one of {', '.join(CLAIM_METRICS)}"
                    )


def _key(name: str) -> str:
    """A TOML key as written: bare when it can be, else quoted."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else '"' + name.replace('"', '\\"') + '"'


def unmatched_operating_points(settings: Settings, loaded: Iterable[tuple[str, str]]) -> list[str]:
    """A warning line for each operating point that matches no (model_name, finding) of
    ``loaded``: it sets no threshold, and the rows it was meant for use the file's threshold or
    0.5. Names are matched exactly, case included, as they are stored; a loaded pair that differs
    only in case or surrounding spaces, else a close one, is suggested."""
    pairs = sorted({f"{model}/{finding}" for model, finding in loaded})
    by_folded: dict[str, str] = {}
    for pair in pairs:
        by_folded.setdefault(_folded(pair), pair)
    lines = []
    for key in sorted(settings.operating_points):
        if key in pairs:
            continue
        guess = by_folded.get(_folded(key)) or next(
            iter(difflib.get_close_matches(key, pairs, n=1)), None
        )
        lines.append(
            f"warning: {settings.data_dir / SETTINGS_FILE}: operating point {key!r} matches no "
            "model_name/finding loaded (names are matched exactly, case included), so it sets "
            "no threshold" + (f"; did you mean {guess!r}?" if guess else "")
        )
    return lines


def _folded(text: str) -> str:
    return "/".join(part.strip().casefold() for part in text.split("/"))  # any "/" of a name


def _known_zone(name: object) -> bool:
    """Whether ``name`` is an IANA zone that Python and DuckDB both know: zoneinfo also opens
    'localtime' (a link to this machine's zone) and 'posixrules', which DuckDB refuses."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_+\-/]+", name):
        return False
    return name in _zones()


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - {"localtime", "posixrules"})
