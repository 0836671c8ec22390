"""Why a new category was not judged, or does not alert (not yet, or no longer: known), in
words: for the dashboard's Drift page and the monthly report, which must say the same (the
report does not import the dashboard)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from metrics._periods import add_months, month_index


def new_category_status(
    new: pd.DataFrame, min_n: Mapping[str, int], persistence: Mapping[str, int] | None = None
) -> list[str]:
    """The status of each ``monitor(...).new_categories`` row in words: for "insufficient
    data", why (the rule's ``min_n``, by rule name, not met in the month or the reference);
    for "drift" that raises no alert yet, why (the rule's ``persistence``, by rule name: the
    months in a row it must drift, more than the row's ``run``); for "drift" after the rule's
    ``alert_months`` (the row's ``known``), "known: in use since <month>" and the months it
    alerted.

    The group a new software version is judged in is its site and scanner model; a scanner
    model that is new itself has no reference studies, so its software cannot be judged. A
    new model version's group is its site and AI model: a model the site did not use in the
    reference window is named with the site.
    A few rows (one per new category), worded one by one.
    """
    words = []
    for row in new.to_dict("records"):
        status = str(row["status"])
        known = row.get("known")
        if status == "drift" and isinstance(known, bool | np.bool_) and known:
            words.append(_known(row))
            continue
        if status == "drift":
            words.append(_before_alert(row, (persistence or {}).get(str(row["rule"]))))
            continue
        if status != "insufficient data":
            words.append(status)
            continue
        need = min_n.get(str(row["rule"]))
        n_ref = 0 if pd.isna(row.get("n_reference")) else int(row["n_reference"])
        n = 0 if pd.isna(row.get("n")) else int(row["n"])
        scanner, model = row.get("scanner_model"), row.get("model_name")
        if n_ref == 0:
            if isinstance(scanner, str) and scanner:
                what = f"scanner {scanner}"
            elif isinstance(model, str) and model:  # a new model version: of its model there
                what = f"{model} at {row.get('site')}"
            else:
                what = f"site {row.get('site')}"
            words.append(
                f"not judged: no reference months for {what} (no studies of it in the "
                "reference window)"
            )
        elif need is not None and n_ref < need:
            words.append(
                f"not judged: {n_ref:,} studies in the reference window, fewer than the "
                f"rule's minimum of {need}"
            )
        elif need is not None and n < need:
            words.append(
                f"not judged: {n:,} studies this month, fewer than the rule's minimum of {need}"
            )
        else:
            words.append("not judged: insufficient data")
    return words


def _before_alert(row: Mapping[str, object], persistence: int | None) -> str:
    """'drift', or for a drift shorter than the rule's persistence why it raises no alert yet
    (a new scanner first seen this month under a rule that wants 2 months in a row)."""
    run = row.get("run")
    if persistence is None or persistence <= 1 or not isinstance(run, int | float) or pd.isna(run):
        return "drift"
    if int(run) >= persistence:
        return "drift"
    return (
        f"drift: no alert yet; the rule alerts after {persistence} months in a row "
        f"({int(run)} so far)"
    )


def _known(row: Mapping[str, object]) -> str:
    """A new category past its rule's alert_months: since when it is in use and when it alerted
    (the sibling of "drift: no alert yet; ..."). Short enough for the Drift page's reason
    column (3 lines of about 31 characters); how to monitor it against its own baseline (a
    [reference] window holding it) is said under the table and in the report's summary."""
    month, periods = row.get("month"), row.get("periods")
    parts = []
    if isinstance(month, str) and isinstance(periods, int | float) and not pd.isna(periods):
        parts.append(f"in use since {add_months(month, -(int(periods) - 1))}")
    first, until = row.get("first_alert"), row.get("alert_until")
    if isinstance(first, str) and isinstance(until, str):
        n = month_index(until) - month_index(first) + 1
        span = first if n == 1 else f"{first} to {until}"
        parts.append(f"alerted {span} (alert_months = {n}), then known")
    return "known: " + ("; ".join(parts) or "alerted in its first months, then known")


def new_category_subject(row: Mapping[str, object]) -> str:
    """What a ``monitor(...).new_categories`` row is about: a new scanner model's row names the
    scanner (its category), a new software version's row its scanner model, a new model
    version's row its AI model; '' when the row has none. The Drift page and the report show it.
    """
    if row.get("metric") == "scanner_model":
        return _text(row.get("category"))
    return _text(row.get("scanner_model")) or _text(row.get("model_name"))


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
