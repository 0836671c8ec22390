"""Why a new category was not judged, in words: for the dashboard's Drift page and the
monthly report, which must say the same (the report does not import the dashboard)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd


def new_category_status(
    new: pd.DataFrame, min_n: Mapping[str, int], persistence: Mapping[str, int] | None = None
) -> list[str]:
    """The status of each ``monitor(...).new_categories`` row in words: for "insufficient
    data", why (the rule's ``min_n``, by rule name, not met in the month or the reference);
    for "drift" that raises no alert yet, why (the rule's ``persistence``, by rule name: the
    months in a row it must drift, more than the row's ``run``).

    The group a new software version is judged in is its site and scanner model; a scanner
    model that is new itself has no reference studies, so its software cannot be judged. A
    new model version's group is its site and AI model: a model the site did not use in the
    reference window is named with the site.
    A few rows (one per new category), worded one by one.
    """
    words = []
    for row in new.to_dict("records"):
        status = str(row["status"])
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
