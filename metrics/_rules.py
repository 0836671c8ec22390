"""Alert rules: the built-in defaults, or a TOML file ``alert_rules.toml`` in the data dir.

A rule names a drift method (a key of :data:`metrics.METHODS`), the metric it watches, the
groups it runs over, and when a result becomes an alert: the effect-size ``threshold`` in the
rule's ``direction``, an adjusted p-value below ``alpha`` (Holm or BH across the groups of one
month), at least ``min_n`` rows on both sides (for volume: a reference mean over the months the
period covers of at least ``min_n``, whatever the period's count), and ``persistence``
consecutive drifting months. A ``new_category`` rule (a new scanner model, software version
or model version) alerts for ``alert_months`` months from its first alert on a category; after
that the category is *known*: still listed, in use since its first month, but no alert (the
committee was told when it happened; a committee shown the same installation every month learns
to ignore the list). To watch it against its own baseline, set a ``[reference]`` window that
contains months of it.

The file may also hold a ``[reference]`` table with ``first`` and ``last`` months
(``'YYYY-MM'``, both included): the reference window every monitored month is compared with.
Without it the window is automatic (:data:`AUTO_REFERENCE_MONTHS` months, see
:mod:`metrics._periods`); :func:`data_dir_reference` gives the one that applies.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metrics._drift_methods import METHODS, ValueRange
from metrics._periods import SPARSE_SHARE, ReferenceWindow, check_month, month_index
from radqa.errors import ConfigError

RULES_FILE = "alert_rules.toml"
#: Length of the automatic reference window (without a [reference] table).
AUTO_REFERENCE_MONTHS = 6
_REFERENCE_KEYS = ("first", "last")

GROUP_DIMS = (
    "site",
    "scanner_manufacturer",
    "scanner_model",
    "scanner_software",
    "modality",
    "finding",
    "model_name",
    "model_version",
)
STUDY_DIMS = ("site", "scanner_manufacturer", "scanner_model", "scanner_software", "modality")
#: The metric counting the studies each version of a model scored (per model: group by
#: model_name), for new_category: a model version the reference window did not have.
MODEL_VERSION = "model_version"
CATEGORICAL_METRICS = (
    "scanner_manufacturer",
    "scanner_model",
    "scanner_software",
    "modality",
    "body_part",
    "patient_sex",
    "age_band",
)
PROPORTION_METRICS = (
    "positive_rate",
    "sensitivity",
    "specificity",
    "discordance",
    "prevalence",
    "label_completeness",
)
METRICS_BY_KIND = {
    "categorical": CATEGORICAL_METRICS,
    "new_category": (*CATEGORICAL_METRICS, MODEL_VERSION),
    "score": ("score",),
    "proportion": PROPORTION_METRICS,
    "count": ("volume",),
}
DIRECTIONS = ("increase", "decrease", "both")
CORRECTIONS = ("holm", "bh")
_KEYS = {
    "name", "method", "metric", "threshold", "min_n", "persistence", "group_by", "direction",
    "alpha", "correction", "window_months", "params", "alert_months",
}  # fmt: skip
#: How many months a new_category rule alerts on a new category, by default (``alert_months``)
DEFAULT_ALERT_MONTHS = 3


@dataclass(frozen=True)
class Rule:
    """One alert rule (see the module docstring and :data:`DEFAULT_RULES_TOML`)."""

    name: str
    method: str
    metric: str
    threshold: float
    group_by: tuple[str, ...]
    min_n: int = 30
    persistence: int = 1
    direction: str = "both"
    alpha: float = 0.01
    correction: str = "holm"
    window_months: int = 1
    params: dict[str, float] = field(default_factory=dict)
    alert_months: int = DEFAULT_ALERT_MONTHS

    @property
    def kind(self) -> str:
        return METHODS[self.method].kind


DEFAULT_RULES_TOML = """\
# RadQA alert rules. Without DATA_DIR/alert_rules.toml, RadQA uses these built-in defaults. To
# change them, save this text as DATA_DIR/alert_rules.toml (`radqa rules --write` does) and
# edit it; `radqa rules` checks it. RadQA never writes the file otherwise, nor overwrites it.
#
# Each [[rule]] has:
#   name         shown in alerts
#   method       a drift method key: chi2, jensen_shannon, new_category, psi, ks, wasserstein,
#                two_proportion, poisson, p_chart, cusum, ewma
#   metric       what it watches: a study attribute (scanner_model, scanner_software, body_part,
#                patient_sex, age_band, ...) for chi2 / jensen_shannon / new_category, or
#                model_version for new_category (the studies each version scored); "score"
#                for psi / ks / wasserstein; positive_rate, sensitivity, specificity,
#                discordance, prevalence or label_completeness for two_proportion and the SPC
#                charts; "volume" for poisson
#   threshold    the effect size that must be exceeded: a distance (PSI, JS, KS D, Wasserstein),
#                a difference of proportions (period minus reference), a relative volume change,
#                a share of the month for new_category, or sigma units for the SPC charts (their
#                L, or h for cusum). Below 1 where the effect is at most 1 (chi2, jensen_shannon,
#                ks, wasserstein, new_category, two_proportion, and poisson with "decrease");
#                above 0 for the SPC charts
#   direction    increase, decrease or both, for the signed effects (two_proportion, poisson and
#                the SPC charts); the distances are never negative, so not "decrease"
#   alpha        the adjusted p-value must be below this (methods with a test); between 0 and 1
#   correction   holm or bh: multiple-comparison control across the groups of one month
#   min_n        fewer rows than this in the period or the reference: "insufficient data";
#                for volume (poisson) the reference's monthly mean must reach min_n and the
#                month may have any count, zero included (a site that stopped sending alerts)
#   persistence  consecutive drifting months needed before an alert (1 for strong events)
#   window_months  1, or 2 for a rolling two-month view at small sites (1 for cusum and ewma,
#                which accumulate the months themselves); the window never reaches into the
#                reference window, so the first monitored month is compared on its own
#   alert_months new_category only (default 3): the months a new category alerts, from its
#                first alert (after the rule's persistence); after them it is listed as
#                known, in use since its first month, and no longer alerts. To monitor it
#                against its own baseline, set a [reference] window that contains months of
#                it. A large number (e.g. 120) alerts for as long as the reference predates it
#   params       optional, per method: alpha (two_proportion, poisson; the interval shown is
#                at level 1 - alpha), k (cusum), lam (ewma); no others
#   group_by     any of site, scanner_manufacturer, scanner_model, scanner_software, modality,
#                finding, model_name, model_version; a rule on a study attribute or on volume
#                (chi2, jensen_shannon, new_category, poisson) only the first five, and model_name
#                when its metric is model_version
# SPC charts (p_chart, cusum, ewma) are drawn for every site and finding in the report; at
# 3 sigma over dozens of groups they fire by chance too often to alert on by default.
#
# The reference window (the months every monitored month is compared with) is automatic: the
# 6 calendar months from the first month holding at least 10% of the median month's AI
# predictions. Sparser months before it (a study with a wrong year, a test upload) are skipped
# and the report names them. To choose the window, add a table (both months included):
#   [reference]
#   first = "2025-01"
#   last = "2025-06"

[[rule]]
name = "new scanner model"
method = "new_category"
metric = "scanner_model"
group_by = ["site"]
threshold = 0.0
min_n = 10
persistence = 1
alert_months = 3

[[rule]]
name = "new scanner software version"
method = "new_category"
metric = "scanner_software"
group_by = ["site", "scanner_model"]
threshold = 0.0
min_n = 10
persistence = 1
alert_months = 3

[[rule]]
name = "case-mix shift: body part"
method = "jensen_shannon"
metric = "body_part"
group_by = ["site"]
threshold = 0.1
min_n = 100
persistence = 2

[[rule]]
name = "case-mix shift: age band"
method = "jensen_shannon"
metric = "age_band"
group_by = ["site"]
threshold = 0.1
min_n = 100
persistence = 2

[[rule]]
name = "case-mix shift: patient sex"
method = "jensen_shannon"
metric = "patient_sex"
group_by = ["site"]
threshold = 0.1
min_n = 100
persistence = 2

[[rule]]
name = "score distribution shift (PSI)"
method = "psi"
metric = "score"
group_by = ["site", "scanner_model", "finding"]
threshold = 0.2
min_n = 100
persistence = 2

[[rule]]
name = "score distribution shift (KS)"
method = "ks"
metric = "score"
group_by = ["site", "scanner_model", "finding"]
threshold = 0.15
min_n = 100
persistence = 2

[[rule]]
name = "AI positive rate change"
method = "two_proportion"
metric = "positive_rate"
group_by = ["site", "scanner_model", "finding"]
direction = "both"
threshold = 0.05
min_n = 100
persistence = 2

# The same over every finding of a site's scanner: a scanner's studies carry one prediction per
# finding of the model, so the finding mix is fixed by the scanner and a pooled rate moves
# only when the AI's calls move. At a few hundred studies a month the per-finding groups stay
# below min_n (54 Ysio Max films a month per finding in the 20,000-study demo), the pooled
# group reaches it (about 200), and a rise from 0.12 to 0.25 gives z of about 4.
# Score rules are not pooled so: scores of different findings are different scales.
[[rule]]
name = "AI positive rate change (all findings)"
method = "two_proportion"
metric = "positive_rate"
group_by = ["site", "scanner_model"]
direction = "both"
threshold = 0.05
min_n = 100
persistence = 2

[[rule]]
name = "specificity drop"
method = "two_proportion"
metric = "specificity"
group_by = ["site", "finding"]
direction = "decrease"
threshold = 0.05
min_n = 50
persistence = 2

[[rule]]
name = "sensitivity drop"
method = "two_proportion"
metric = "sensitivity"
group_by = ["site", "finding"]
direction = "decrease"
threshold = 0.08
min_n = 30
persistence = 1
window_months = 2

[[rule]]
name = "sensitivity drop (site)"
method = "two_proportion"
metric = "sensitivity"
group_by = ["site"]
direction = "decrease"
threshold = 0.05
min_n = 30
persistence = 1
window_months = 2

[[rule]]
name = "specificity drop (site)"
method = "two_proportion"
metric = "specificity"
group_by = ["site"]
direction = "decrease"
threshold = 0.03
min_n = 100
persistence = 2

[[rule]]
name = "AI-reference discordance rise"
method = "two_proportion"
metric = "discordance"
group_by = ["site", "finding"]
direction = "increase"
threshold = 0.05
min_n = 50
persistence = 2

[[rule]]
name = "prevalence change"
method = "two_proportion"
metric = "prevalence"
group_by = ["site", "finding"]
direction = "both"
threshold = 0.05
min_n = 50
persistence = 1
window_months = 2

[[rule]]
name = "volume drop (site)"
method = "poisson"
metric = "volume"
group_by = ["site"]
direction = "decrease"
threshold = 0.5
min_n = 50
persistence = 1

[[rule]]
name = "volume drop (scanner)"
method = "poisson"
metric = "volume"
group_by = ["site", "scanner_model"]
direction = "decrease"
threshold = 0.5
min_n = 50
persistence = 1

[[rule]]
name = "volume change"
method = "poisson"
metric = "volume"
group_by = ["site"]
direction = "both"
threshold = 0.3
min_n = 50
persistence = 2

# The vendor installed a model version the reference window did not have: every figure before
# and after it is of a different product. Per site and model, the studies the new version
# scored this month, as long as the reference window has no study of it (min_n: in the month,
# and of the model at the site in the reference; a model the site did not use then is not
# judged). Listed last (the report lists alerts in rule order): the month's findings on the
# AI's performance come first. Like the scanner rules, it alerts for alert_months months from
# the version's first alert; after them the version is listed as known, not as an alert.
[[rule]]
name = "new model version"
method = "new_category"
metric = "model_version"
group_by = ["site", "model_name"]
threshold = 0.0
min_n = 10
persistence = 1
alert_months = 3
"""


def _fail(path: Path | str, where: str, what: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {what}")


def parse_rules(text: str, source: Path | str = "<rules>") -> list[Rule]:
    """Rules from TOML text; ``source`` names the file in error messages. A ``[reference]``
    table is checked too (:func:`parse_reference` returns it)."""
    return _parse(text, source)[0]


def parse_reference(text: str, source: Path | str = "<rules>") -> ReferenceWindow | None:
    """The ``[reference]`` table of a rules file's TOML text, or None when it has none; the
    rules are checked too."""
    return _parse(text, source)[1]


def _parse(text: str, source: Path | str) -> tuple[list[Rule], ReferenceWindow | None]:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    extra = set(raw) - {"rule", "reference"}
    if extra:
        raise _fail(
            source,
            "top level",
            f"unknown keys {sorted(extra)}; expected only [[rule]] tables and a [reference] table",
        )
    reference = _reference(raw["reference"], source) if "reference" in raw else None
    entries = raw.get("rule", [])
    if not isinstance(entries, list) or not entries:
        raise _fail(source, "top level", "no [[rule]] tables found; expected at least one")
    rules: list[Rule] = []
    for i, entry in enumerate(entries, start=1):
        rules.append(_rule(entry, i, source))
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail(source, "rules", f"duplicate rule names {dupes}; names must be unique")
    return rules, reference


def _reference(table: object, source: Path | str) -> ReferenceWindow:
    where = "[reference]"
    if not isinstance(table, dict):
        raise _fail(
            source, "top level", f"reference is {table!r}; expected a [reference] table with "
            "first and last months ('YYYY-MM')",
        )  # fmt: skip
    unknown = sorted(set(table) - set(_REFERENCE_KEYS))
    if unknown:
        raise _fail(source, where, f"unknown keys {unknown}; valid keys: first, last")
    for key in _REFERENCE_KEYS:
        if key not in table:
            raise _fail(
                source, where, f"missing key {key!r}; expected first and last months ('YYYY-MM')"
            )
        value = table[key]
        if not isinstance(value, str) or not _is_month(value):
            raise _fail(
                source, where, f"{key} is {value!r}; expected a month as 'YYYY-MM', e.g. '2025-01'"
            )
    first, last = table["first"], table["last"]
    if month_index(last) < month_index(first):
        raise _fail(
            source, where, f"last ({last}) is before first ({first}); expected first <= last"
        )
    return ReferenceWindow(first, last)


def _is_month(value: str) -> bool:
    try:
        check_month(value)
    except ValueError:
        return False
    return True


def _rule(entry: object, i: int, source: Path | str) -> Rule:
    if not isinstance(entry, dict):
        raise _fail(
            source, f"rule {i}", f"found {entry!r}; expected a [[rule]] table (name, method, ...)"
        )
    name = entry.get("name")
    where = f"rule {i} ({name!r})" if isinstance(name, str) else f"rule {i}"
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, where, f"'name' is {name!r}; expected a non-empty string")
    unknown = set(entry) - _KEYS
    if unknown:
        raise _fail(source, where, f"unknown keys {sorted(unknown)}; valid keys: {sorted(_KEYS)}")
    for key in ("method", "metric", "threshold", "group_by"):
        if key not in entry:
            raise _fail(source, where, f"missing key {key!r}")
    method = entry["method"]
    if method not in METHODS:
        raise _fail(
            source, where, f"method {method!r} unknown; valid keys: {', '.join(sorted(METHODS))}"
        )
    kind = METHODS[method].kind
    metric = entry["metric"]
    valid_metrics = METRICS_BY_KIND[kind]
    if metric not in valid_metrics:
        raise _fail(
            source,
            where,
            f"metric {metric!r} does not fit method {method!r}; valid: {', '.join(valid_metrics)}",
        )
    group_by = entry["group_by"]
    allowed = _allowed_group_by(kind, metric)
    if (
        not isinstance(group_by, list)
        or not group_by
        or any(g not in allowed for g in group_by)
        or len(set(group_by)) != len(group_by)
    ):
        raise _fail(
            source,
            where,
            f"group_by is {group_by!r}; expected a list of distinct names from {list(allowed)}",
        )
    if metric in group_by:
        raise _fail(source, where, f"metric {metric!r} cannot also be in group_by")
    if metric == MODEL_VERSION and "model_name" not in group_by:
        raise _fail(
            source,
            where,
            "a model_version rule must group by 'model_name' (versions of different models differ)",
        )
    if kind == "score" and "finding" not in group_by:
        raise _fail(
            source, where, "score rules must group by 'finding' (scores of findings differ)"
        )
    cls = METHODS[method]
    values = {
        "threshold": _number(entry, "threshold", source, where, low=0.0),
        "min_n": int(_number(entry, "min_n", source, where, low=1, default=30, whole=True)),
        "persistence": int(
            _number(entry, "persistence", source, where, low=1, default=1, whole=True)
        ),
        "alpha": _number(
            entry, "alpha", source, where, low=0.0, high=1.0, open_=True, default=0.01
        ),
        "window_months": int(
            _number(entry, "window_months", source, where, low=1, high=2, default=1, whole=True)
        ),
    }
    _check_range("threshold", entry["threshold"], cls.threshold_range, source, where, method)
    if "alert_months" in entry and kind != "new_category":
        raise _fail(
            source,
            where,
            f"alert_months is {entry['alert_months']!r}; it applies to new_category rules only "
            f"(method {method!r} alerts for as long as the drift lasts): remove it",
        )
    values["alert_months"] = int(
        _number(entry, "alert_months", source, where, low=1, default=DEFAULT_ALERT_MONTHS,
                whole=True)
    )  # fmt: skip
    if values["window_months"] != 1 and cls.cumulative:
        raise _fail(
            source,
            where,
            f"window_months is {entry['window_months']!r}; expected 1 for method {method!r}: the "
            "chart accumulates the months itself, and overlapping windows would count each "
            "month twice",
        )
    direction = entry.get("direction", "both")
    if direction not in DIRECTIONS:
        raise _fail(source, where, f"direction {direction!r}; valid: {', '.join(DIRECTIONS)}")
    if direction == "decrease" and not cls.signed:
        raise _fail(
            source,
            where,
            f"direction 'decrease' does not fit method {method!r}: it measures a distance, "
            "never negative, so the rule could never fire; valid: increase, both (the default)",
        )
    if direction == "decrease" and method == "poisson" and values["threshold"] >= 1:
        raise _fail(
            source,
            where,
            f"threshold is {entry['threshold']!r} with direction 'decrease'; expected a number "
            "< 1 for method 'poisson' (a volume falls by at most 100%, and an alert needs the "
            "fall to exceed the threshold)",
        )
    correction = entry.get("correction", "holm")
    if correction not in CORRECTIONS:
        raise _fail(source, where, f"correction {correction!r}; valid: {', '.join(CORRECTIONS)}")
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise _fail(source, where, f"params is {params!r}; expected a table of numbers")
    for key, value in params.items():
        if key == cls.threshold_param:
            raise _fail(
                source,
                where,
                f"params.{key} is {value!r}; a {method!r} rule's {key} is its threshold: set "
                f"threshold instead of params.{key}",
            )
        if key not in cls.params:
            valid = ", ".join(sorted(cls.params)) or "none (the method takes no params)"
            raise _fail(
                source,
                where,
                f"params has unknown key {key!r} for method {method!r}; valid keys: {valid}",
            )
        _check_range(f"params.{key}", value, cls.params[key], source, where, method)
    return Rule(
        name=name.strip(),
        method=method,
        metric=metric,
        group_by=tuple(group_by),
        direction=direction,
        correction=correction,
        params={str(k): float(v) for k, v in params.items()},
        **values,  # type: ignore[arg-type]
    )


def _allowed_group_by(kind: str, metric: str) -> tuple[str, ...]:
    """The group_by names a rule of ``kind`` on ``metric`` may use: a study attribute or volume
    has a study's dimensions only; model_version counts studies per model, so model_name too;
    a rule on predictions any of :data:`GROUP_DIMS`."""
    if metric == MODEL_VERSION:
        return (*STUDY_DIMS, "model_name")
    if kind in ("categorical", "new_category", "count"):
        return STUDY_DIMS
    return GROUP_DIMS


def _number(
    entry: dict[str, Any],
    key: str,
    source: Path | str,
    where: str,
    *,
    low: float,
    high: float | None = None,
    open_: bool = False,
    default: float | None = None,
    whole: bool = False,
) -> float:
    """``entry[key]`` (or ``default``) as a number from ``low`` to ``high``, both included, or
    both excluded with ``open_``."""
    value = entry.get(key, default)
    ok = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (value > low if open_ else value >= low)
        and (high is None or (value < high if open_ else value <= high))
        and (not whole or float(value) == int(value))
    )
    if not ok or value is None:
        kind = "a whole number" if whole else "a number"
        span = f">= {low}" if high is None else f"between {low} and {high}"
        if open_:
            span = f"> {low}" if high is None else f"between {low} and {high}, both excluded"
        raise _fail(source, where, f"{key} is {value!r}; expected {kind} {span}")
    return float(value)


def _check_range(
    key: str, value: object, allowed: ValueRange, source: Path | str, where: str, method: str
) -> None:
    if not allowed.contains(value):
        why = f" ({allowed.why})" if allowed.why else ""
        raise _fail(
            source,
            where,
            f"{key} is {value!r}; expected {allowed.describe()} for method {method!r}{why}",
        )


#: sha256 of the default rules files earlier versions of RadQA wrote into the data dir on first
#: use. Such a file, unedited, holds nobody's choice: it reads as the current defaults. When
#: DEFAULT_RULES_TOML changes, add the hash of the text it replaces here.
EARLIER_DEFAULTS_SHA256 = frozenset({
    "2ae616636dd2ffbcf86ada48b446c71e79eeb28c1adedbfd5717652c1f264a42",
    "7e2868674fcbf89b3e5ec2d9e2c1c0b1e132ceb52989ec699d10e94bf1922689",
    "8bd8e0d822fc7080ec0920feb40670dd00f9988f42bbaee43c8d35027fe22591",
    "4130b02831f8a66931c6bfc81acb42e092b48a356a2cd5ba2fba0c48fa156d3b",
    "5487cff117eaebd9f65268989573b4cf29c1018a207694865bcd681fb6d610b7",
    "c0bc70bae465c8cd0a776d20053c8693f8f09fad9dc5ae35215a8c3323239364",
    "f7b3890210538166e63fef559d277ab8227f1e3f89fbf41d2656e6a16f8ad9d7",
    "d0a58efc3747f3b902d66c5e5b13e0a72e811e17d8935efe837ab04598c7cc9f",
})  # fmt: skip


def _earlier_default(text: str) -> bool:
    return hashlib.sha256(text.encode()).hexdigest() in EARLIER_DEFAULTS_SHA256


def load_rules(path: Path | str) -> list[Rule]:
    """Read and check the rules in the TOML file at ``path``.

    A file that is an unedited copy of the defaults an earlier RadQA wrote
    (:data:`EARLIER_DEFAULTS_SHA256`) gives the current defaults.

    Raises
    ------
    ConfigError
        The file is missing, not TOML, or a rule has an unknown key, method, metric or group;
        the message names the file, the rule and the valid choices.
    """
    return _rules_and_source(Path(path))[0]


def _rules_and_source(path: Path) -> tuple[list[Rule], str, ReferenceWindow | None]:
    """:func:`load_rules` of ``path``, where the rules come from (the file, or the defaults
    when it is an unedited copy of an earlier version's), and the file's [reference] window,
    reading the file once."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM (Notepad) is not TOML
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the alert rules: {exc.strerror}") from exc
    if _earlier_default(text):
        return default_rules(), (
            f"built-in default rules ({path.name} is an unedited copy of an earlier version's "
            "defaults)"
        ), None  # fmt: skip
    rules, reference = _parse(text, path)
    return rules, path.name, reference


def data_dir_rules(data_dir: Path | str) -> tuple[list[Rule], str]:
    """The alert rules that apply to ``data_dir``, and where they come from (for reports).

    ``alert_rules.toml`` when the data dir has one (:func:`load_rules`), else the built-in
    defaults. Nothing is written: a data dir, or a mistyped one, is left exactly as it is.
    """
    path = Path(data_dir) / RULES_FILE
    if not path.exists():
        return default_rules(), f"built-in default rules (no {RULES_FILE} in the data dir)"
    rules, source, _ = _rules_and_source(path)
    return rules, source


#: How :func:`data_dir_reference` says the window came from the rules file
REFERENCE_SET = f"set in {RULES_FILE} ([reference])"


def rules_file_reference(data_dir: Path | str) -> ReferenceWindow | None:
    """The window the ``[reference]`` table of ``data_dir``'s ``alert_rules.toml`` sets; None
    without the file or the table. Raises :class:`ConfigError` as :func:`load_rules` does."""
    path = Path(data_dir) / RULES_FILE
    return _rules_and_source(path)[2] if path.exists() else None


def data_dir_reference(data_dir: Path | str) -> tuple[ReferenceWindow, str]:
    """The reference window that applies to ``data_dir``, and how it was chosen (for reports).

    The ``[reference]`` table of its ``alert_rules.toml`` when there is one; else the automatic
    window, ``ReferenceWindow.first_months(AUTO_REFERENCE_MONTHS)`` (see
    :mod:`metrics._periods`). Raises :class:`ConfigError` as :func:`load_rules` does.
    """
    reference = rules_file_reference(data_dir)
    if reference is not None:
        return reference, REFERENCE_SET
    return ReferenceWindow.first_months(AUTO_REFERENCE_MONTHS), (
        f"automatic: the first {AUTO_REFERENCE_MONTHS} months from the first month holding at "
        f"least {SPARSE_SHARE:.0%} of the median month's AI predictions (no [reference] in "
        f"{RULES_FILE})"
    )


def default_rules() -> list[Rule]:
    """The rules of :data:`DEFAULT_RULES_TOML`."""
    return parse_rules(DEFAULT_RULES_TOML, "<default rules>")


def ensure_rules_file(data_dir: Path | str) -> Path:
    """Write the default rules to ``data_dir/alert_rules.toml`` unless a file is already there,
    as a copy to edit (no report or page calls this: without the file the defaults apply).

    Returns the file's path. An existing file is never overwritten (nor read: call
    :func:`load_rules` for that).
    """
    path = Path(data_dir) / RULES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x") as fh:  # exclusive create: never replaces an existing file
            fh.write(DEFAULT_RULES_TOML)
    except FileExistsError:
        pass
    return path
