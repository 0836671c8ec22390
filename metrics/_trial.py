"""Trial statistics for STARD 2015 / CLAIM / CONSORT-AI reporting, as tables.

:func:`trial_tables` is what ``radqa export trial`` calls: it infers (or checks) the design,
reduces the store to counts in DuckDB (:mod:`metrics._trial_sql`), and turns the counts into
estimates and comparisons with the metrics functions (:mod:`metrics._trial_compare`). It returns
plain DataFrames; the writer (``reports/trial.py``) adds no number of its own.

Designs
-------
- ``parallel``: different cases in different arms (difference of proportions, risk ratio, GEE);
- ``paired``: the same cases read in every arm (McNemar, paired difference, DeLong);
- ``mrmc``: several readers rate every case in every arm (Obuchowski-Rockette).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from metrics._accuracy import diagnostic_accuracy
from metrics._proportions import check_alpha, proportion_ci
from metrics._roc import roc_auc
from metrics._trial_compare import (
    ACCURACY_MEASURES,
    ENDPOINT_OUTCOMES,
    CrossedReads,
    arm_pairs,
    cluster_comparisons,
    estimate_fields,
    mrmc_reader_agreement,
    mrmc_reader_estimates,
    mrmc_tables,
    paired_comparisons,
    parallel_comparisons,
    reader_agreement_rows,
    reader_or,
    table_agreement,
)
from metrics._trial_sql import (
    ALL_CASES,
    CLUSTERS,
    DIMENSIONS,
    INDETERMINATE_SOURCE,
    TrialScope,
    ai_counts,
    baseline,
    check_arm_column,
    cluster_counts,
    design_facts,
    flow,
    index_test,
    mrmc_frame,
    paired_units,
    rater_counts,
    reader_counts,
    reader_pair_tables,
    reference_facts,
)
from radqa.errors import InputError

REFERENCE_RULE = (
    "adjudication read > consensus read > majority of independent reads > primary read "
    "(clinical reads only: reads made inside a trial arm never enter the reference)"
)
DESIGNS = ("auto", "parallel", "paired", "mrmc")
ENDPOINTS = ("missed_findings", "accuracy")
AUC_METHOD = "empirical AUC (Mann-Whitney), DeLong (1988) SE, Wald interval clipped to [0, 1]"
ZERO_CELLS = (
    "zero cells: Wilson (1927) intervals are used as they are (defined for 0 and n); a measure "
    "whose denominator is 0 is left empty with a note; likelihood ratios with a zero cell get 0.5 "
    "added to every cell (noted)"
)


@dataclass(frozen=True)
class DesignChoice:
    """The analysed design, why, and the facts it was decided on."""

    design: str
    requested: str
    reason: str
    arms: tuple[str, ...]
    use_ratings: bool
    pair_by_reader: bool
    facts: dict[str, object] = field(repr=False)


def infer_design(facts: dict[str, object], requested: str = "auto") -> DesignChoice:
    """Pick the design from the arm reads' counts, or check that the data support ``requested``.

    Auto: ratings on every read by 2+ readers, every reader reading every case in every arm
    -> ``mrmc``; else every case read in every arm -> ``paired``; else ``parallel``.

    Raises
    ------
    InputError
        Fewer than two arms, or a requested design the reads cannot support (saying what is
        missing).
    """
    if requested not in DESIGNS:
        raise InputError(f"unknown design {requested!r}; expected one of {', '.join(DESIGNS)}")
    arms = tuple(str(a) for a in facts["arms"])  # type: ignore[attr-defined]
    n = {k: int(v) for k, v in facts.items() if k != "arms"}  # type: ignore[call-overload]
    if len(arms) < 2:
        raise InputError(
            f"a trial export needs analysed reads in at least two arms; found {len(arms)} "
            f"({', '.join(arms) or 'none'}) over {n['n_cases']} analysed case(s). Check the arm "
            "column, the date window and the flow (cases need a prediction and a reference read)"
        )
    rated = n["n_reads"] > 0 and n["n_rated"] == n["n_reads"]
    cells = len(arms) * n["n_readers"] * n["n_cases"]
    crossed = n["n_readers"] >= 2 and n["n_cells"] == cells
    all_paired = n["cases_in_all_arms"] == n["n_cases"]
    by_reader = n["reader_cases_in_all_arms"] > 0
    mrmc_missing = []
    if not rated:
        mrmc_missing.append(
            f"a rating on every arm read ({n['n_rated']} of {n['n_reads']} have one)"
        )
    if n["n_readers"] < 2:
        mrmc_missing.append(f"at least 2 readers (found {n['n_readers']})")
    elif not crossed:
        mrmc_missing.append(
            f"every reader reading every case in every arm ({n['n_cells']} of {cells} "
            "reader x case x arm cells are read)"
        )

    def choice(design: str, reason: str) -> DesignChoice:
        return DesignChoice(design, requested, reason, arms, rated, by_reader, dict(facts))

    if requested == "mrmc" or (requested == "auto" and not mrmc_missing):
        if mrmc_missing:
            raise InputError("design 'mrmc' needs " + "; and ".join(mrmc_missing))
        return choice(
            "mrmc",
            f"{n['n_readers']} readers rated all {n['n_cases']} cases in each "
            f"of the {len(arms)} arms (fully crossed, ratings present)",
        )
    if requested == "paired" or (requested == "auto" and all_paired):
        if n["cases_in_all_arms"] == 0:
            raise InputError(
                f"design 'paired' needs cases read under every arm ({', '.join(arms)}); found "
                f"none of {n['n_cases']} analysed cases read in all arms"
            )
        several = n["reader_cases_in_all_arms"] - n["cases_in_all_arms"]
        if by_reader and several > 0:
            hint = (
                "use --design mrmc (Obuchowski-Rockette, readers and cases random)"
                if not mrmc_missing
                else "an analysis with readers and cases random (--design mrmc) lacks "
                + "; and ".join(mrmc_missing)
            )
            raise InputError(
                f"design 'paired' needs one pair per case; found {n['reader_cases_in_all_arms']} "
                f"reader x case pairs on {n['cases_in_all_arms']} cases from {n['n_readers']} "
                "readers, and McNemar's test and the paired Newcombe interval would treat the "
                f"reads of one case as independent; {hint}"
            )
        unit = "reader x case" if by_reader else "case"
        return choice(
            "paired",
            f"{n['cases_in_all_arms']} of {n['n_cases']} cases were read in "
            f"every arm; pairs are {unit} units"
            + ("" if not mrmc_missing else "; not MRMC: lacks " + "; ".join(mrmc_missing)),
        )
    overlap = n["cases_in_all_arms"]
    reason = f"{len(arms)} arms with {n['n_cases']} analysed cases; {overlap} read in every arm" + (
        " (too few for a paired design)" if requested == "auto" else ""
    )
    return choice("parallel", reason)


# --------------------------------------------------------------------------- estimates
def _measures(
    da: object, auc: tuple[float, float, float, float]
) -> list[tuple[str, dict[str, object]]]:
    out = []
    for name in ACCURACY_MEASURES:
        out.append((name, estimate_fields(getattr(da, name))))
    value, low, high, se = auc
    note = None if np.isfinite(value) else "no reference positives or negatives: AUC undefined"
    out.append(
        (
            "auc",
            {
                "estimate": value,
                "ci_low": low,
                "ci_high": high,
                "se": se,
                "method": AUC_METHOD,
                "note": note,
            },
        )
    )
    return out


def _auc(scores: pd.DataFrame, alpha: float) -> tuple[float, float, float, float]:
    """AUC of one group from its per-score counts, by :func:`metrics.roc_auc` (DeLong 1988)."""
    pos, neg = scores["pos"].to_numpy(dtype=int), scores["neg"].to_numpy(dtype=int)
    if pos.sum() == 0 or neg.sum() == 0:
        nan = float("nan")
        return nan, nan, nan, nan
    values = scores["score"].to_numpy(dtype=float)
    truth = np.r_[np.ones(pos.sum(), int), np.zeros(neg.sum(), int)]
    e = roc_auc(truth, np.r_[np.repeat(values, pos), np.repeat(values, neg)], alpha=alpha)
    return e.value, e.low, e.high, float(e.se) if e.se is not None else float("nan")


def estimates_long(
    by_score: pd.DataFrame,
    keys: list[str],
    *,
    subject: str,
    dimension: str,
    alpha: float,
    score: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """2x2 rows and long estimate rows for one table of per-group, per-score counts.

    Proportions, predictive values and likelihood ratios come from :func:`diagnostic_accuracy`
    and the AUC from :func:`metrics.roc_auc`, one call per group (groups are arms x levels:
    a few hundred at most); the per-score counts are expanded with ``numpy.repeat``.
    """
    if by_score.empty:
        return pd.DataFrame(), pd.DataFrame()
    tables, rows = [], []
    for group, g in by_score.groupby(keys, sort=True, dropna=False):
        base = {"subject": subject, **dict(zip(keys, group, strict=True)), "dimension": dimension}
        tp, fp, fn, tn = (int(g[k].sum()) for k in ("tp", "fp", "fn", "tn"))
        tables.append(
            {
                **base,
                "n": tp + fp + fn + tn,
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "tn": tn,
                "reference_positive": tp + fn,
                "reference_negative": fp + tn,
            }
        )
        da = diagnostic_accuracy(tp, fp, fn, tn, alpha=alpha)
        for name, values in _measures(da, _auc(g, alpha)):
            if name == "auc":
                values["method"] = f"{AUC_METHOD}; score: {score}"
            rows.append({**base, "measure": name, **values})
    return pd.DataFrame(tables), pd.DataFrame(rows)


def _two_by_two(
    con: duckdb.DuckDBPyConnection, scope: TrialScope, choice: DesignChoice, alpha: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    tables, estimates = [], []
    score = "reader rating" if choice.use_ratings else "reader 0/1 label"
    for dim in DIMENSIONS:
        counts = reader_counts(con, scope, dim, use_ratings=choice.use_ratings)
        t, e = estimates_long(
            counts, ["arm", "level"], subject="readers", dimension=dim, alpha=alpha, score=score
        )
        tables.append(t)
        estimates.append(e)
        counts = ai_counts(con, scope, dim)
        t, e = estimates_long(
            counts,
            ["arm", "model", "level"],
            subject="AI",
            dimension=dim,
            alpha=alpha,
            score="AI score",
        )
        tables.append(t)
        estimates.append(e)
    order = ["subject", "arm", "model", "dimension", "level"]
    two = pd.concat(tables, ignore_index=True)
    est = pd.concat(estimates, ignore_index=True)
    for frame in (two, est):
        frame["model"] = frame["model"].fillna("")
    two = two[order + [c for c in two.columns if c not in order]]
    est = est[order + [c for c in est.columns if c not in order]]
    return two, est


ENDPOINT_NAMES = {
    "missed_findings": "missed findings rate (FN / reference positives)",
    "accuracy": "accuracy ((TP + TN) / reads)",
}


def _endpoint(two: pd.DataFrame, endpoint: str, alpha: float) -> pd.DataFrame:
    """The primary endpoint per arm (Wilson 1927 interval), from the readers' overall 2x2."""
    rows = []
    overall = two[(two["subject"] == "readers") & (two["dimension"] == "overall")]
    for r in overall.itertuples(index=False):
        if endpoint == "missed_findings":
            count, nobs = r.fn, r.tp + r.fn
        else:
            count, nobs = r.tp + r.tn, r.n
        e = proportion_ci(int(count), int(nobs), alpha=alpha)
        rows.append(
            {
                "arm": r.arm,
                "endpoint": ENDPOINT_NAMES[endpoint],
                "events": int(count),
                "denominator": int(nobs),
                **estimate_fields(e),
            }
        )
    return pd.DataFrame(rows)


def _endpoint_difference(
    comparisons: pd.DataFrame, endpoint: str, design: str
) -> list[dict[str, object]]:
    """The endpoint's arm difference rows, copied from the design's comparison sheet."""
    outcome = ENDPOINT_OUTCOMES[endpoint][0]
    rows = []
    if design == "parallel":
        chosen = comparisons[
            (comparisons["outcome"] == outcome)
            & comparisons["statistic"].str.startswith("difference")
        ]
        for r in chosen.to_dict("records"):
            rows.append(
                {
                    "arm": r["statistic"].split("(", 1)[1].rstrip(")"),
                    "endpoint": f"difference: {ENDPOINT_NAMES[endpoint]}",
                    **{k: r[k] for k in ("estimate", "ci_low", "ci_high", "se", "method", "note")},
                    "statistic_name": None,
                    "statistic": None,
                    "p_value": None,
                    "sheet": "comparisons",
                }
            )
    else:
        chosen = comparisons[comparisons["outcome"] == outcome]
        for r in chosen.to_dict("records"):
            rows.append(
                {
                    "arm": r["statistic"].split("(", 1)[1].rstrip(")"),
                    "endpoint": f"difference: {ENDPOINT_NAMES[endpoint]}",
                    **{k: r[k] for k in ("estimate", "ci_low", "ci_high", "se", "method", "note")},
                    "statistic_name": r["test"],
                    "statistic": r["test_statistic"],
                    "p_value": r["p_value"],
                    "sheet": "paired",
                }
            )
    return rows


def _mrmc_endpoint(
    reads: CrossedReads, two: pd.DataFrame, endpoint: str, mrmc_sheet: pd.DataFrame, alpha: float
) -> pd.DataFrame:
    """Endpoint per arm and aided - unaided for a fully crossed study, by Obuchowski-Rockette.

    Per arm the reader-averaged endpoint with the single-arm OR interval; then the difference
    of the reader averages with the OR F test (Hillis df), and the OR AUC difference of the
    ratings exactly as on the ``mrmc`` sheet. Readers and cases are random throughout.
    """
    measure = "missed findings rate" if endpoint == "missed_findings" else "accuracy"
    res = reader_or(reads, measure, alpha=alpha)
    base = _endpoint(two, endpoint, alpha).set_index("arm")
    rows: list[dict[str, object]] = []
    for arm in reads.arms:
        e = res.random.treatment_aucs[arm]
        rows.append(
            {
                "arm": arm,
                "endpoint": ENDPOINT_NAMES[endpoint] + ", reader-averaged",
                "events": int(base.loc[arm, "events"]),
                "denominator": int(base.loc[arm, "denominator"]),
                **estimate_fields(e),
                "note": f"events and denominator count reads ({len(reads.readers)} readers x "
                f"{len(reads.truth)} cases); the interval treats readers and cases as random",
            }
        )
    for (a, b), d in res.random.differences.items():
        rows.append(
            {
                "arm": f"{a} - {b}",
                "endpoint": f"difference: {ENDPOINT_NAMES[endpoint]}, reader-averaged",
                **estimate_fields(d),
                "statistic_name": "F",
                "statistic": res.random.statistic,
                "df_numerator": res.random.df[0],
                "df_denominator": res.random.df[1],
                "p_value": res.random.p_value,
                "sheet": "endpoint",
            }
        )
    rrrc = mrmc_sheet[mrmc_sheet["analysis"].str.contains("RRRC", regex=False)]
    for r in rrrc.to_dict("records"):
        rows.append(
            {
                "arm": r["comparison"],
                "endpoint": "difference: reader-averaged AUC of the ratings (MRMC ROC analysis)",
                "estimate": r["difference"],
                **{k: r[k] for k in ("ci_low", "ci_high", "se", "method")},
                "statistic_name": r["statistic_name"],
                "statistic": r["statistic"],
                "df_numerator": r["df_numerator"],
                "df_denominator": r["df_denominator"],
                "p_value": r["p_value"],
                "sheet": "mrmc",
            }
        )
    return pd.DataFrame(rows)


def _whole(value: float) -> int | float:
    """A count as an int (JSON and CSV print 120, not 120.0); NaN stays NaN."""
    return int(value) if np.isfinite(value) and float(value).is_integer() else value


def _reference_table(facts: dict[str, float]) -> pd.DataFrame:
    for count in ("cases", "readers_min", "readers_max", "reference_reads", "read_before_ai"):
        facts = {**facts, count: _whole(facts[count])}
    cases = facts["cases"]
    known = facts["reads_ai_known"]
    rows = [
        ("rule", REFERENCE_RULE, "radqa/sql/reference_standard.sql"),
        (
            "indeterminate",
            "a tie of independent reads with no adjudication or consensus read "
            f"(source '{INDETERMINATE_SOURCE}') is excluded from the trial analysis",
            "STARD item 24",
        ),
        ("cases with a reference standard", cases, ""),
        ("readers per case: mean", facts["readers_mean"], "clinical reads only"),
        ("readers per case: min", facts["readers_min"], ""),
        ("readers per case: max", facts["readers_max"], ""),
        (
            "share adjudicated",
            facts["adjudicated"] / cases if cases else float("nan"),
            f"{int(facts['adjudicated'])} cases",
        ),
        ("share by consensus read", facts["consensus"] / cases if cases else float("nan"), ""),
        (
            "share by majority of independent reads",
            facts["majority"] / cases if cases else float("nan"),
            "",
        ),
        ("share from a single read", facts["single_read"] / cases if cases else float("nan"), ""),
        ("reference reads", facts["reference_reads"], ""),
        (
            "share of reference reads with AI output visible",
            facts["reads_ai_visible"] / known if known else float("nan"),
            f"{int(known)} of {int(facts['reference_reads'])} reads record whether AI was visible",
        ),
        (
            "hours from AI result to first reference read: median",
            facts["hours_median"],
            "AI result time not stored: study_datetime used as its proxy",
        ),
        ("hours: 25th percentile", facts["hours_q1"], ""),
        ("hours: 75th percentile", facts["hours_q3"], ""),
        ("reference reads before the study time", facts["read_before_ai"], ""),
    ]
    return pd.DataFrame(rows, columns=["item", "value", "note"]).astype({"value": object})


# --------------------------------------------------------------------------- entry point
@dataclass(frozen=True)
class TrialTables:
    """The design decision and the export's tables, in sheet order."""

    design: DesignChoice
    tables: dict[str, pd.DataFrame]


def trial_tables(
    con: duckdb.DuckDBPyConnection,
    *,
    design: str = "auto",
    arm_column: str = "arm",
    endpoint: str = "accuracy",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    alpha: float = 0.05,
) -> TrialTables:
    """Every table of the trial statistics export (STARD 2015 / CLAIM / CONSORT-AI).

    Parameters
    ----------
    con : connection to a store (a published snapshot)
    design : {"auto", "parallel", "paired", "mrmc"}
    arm_column : str
        ``"arm"`` or the name of a reads-file column kept beyond the contract.
    endpoint : {"missed_findings", "accuracy"}
    date_from, date_to : date, optional
        Inclusive window on the study date (read date where the study is unknown).
    alpha : float
        1 - confidence level.

    Returns
    -------
    TrialTables
        ``tables``: design, flow, baseline, index_test, reference_standard, two_by_two,
        estimates, endpoint, comparisons (parallel) or paired (paired) or mrmc, mrmc_arm_aucs,
        reader_aucs, mrmc_variance (mrmc), cluster_adjusted (parallel and paired with 2+
        clusters), agreement.
    """
    if endpoint not in ENDPOINTS:
        raise InputError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}")
    alpha = check_alpha(alpha)
    scope = TrialScope(arm_column, date_from, date_to)
    check_arm_column(con, scope)
    flow_table = flow(con, scope)
    choice = infer_design(design_facts(con, scope), design)
    arms = list(choice.arms)
    outcomes = ENDPOINT_OUTCOMES[endpoint]
    two, est = _two_by_two(con, scope, choice, alpha)
    reads: CrossedReads | None = None
    if choice.design == "mrmc":
        frame = mrmc_frame(con, scope)
        reads = CrossedReads.from_frame(frame, list(DIMENSIONS))
        # reads cluster within readers and cases: no interval on pooled reads (see
        # mrmc_reader_estimates); the AI rows are per case and stay as they are
        est = pd.concat(
            [
                mrmc_reader_estimates(reads, list(DIMENSIONS), alpha=alpha),
                est[est["subject"] != "readers"],
            ],
            ignore_index=True,
        )[list(est.columns)]
    tables: dict[str, pd.DataFrame] = {
        "design": _design_table(choice, endpoint),
        "flow": flow_table,
        "baseline": baseline(con, scope),
        "index_test": index_test(con, scope),
        "reference_standard": _reference_table(reference_facts(con, scope)),
        "two_by_two": two,
        "estimates": est,
        "endpoint": _endpoint(two, endpoint, alpha),
    }
    read_counts = {c: cluster_counts(con, scope, c, arms) for c in CLUSTERS}
    if choice.design == "parallel":
        per_arm = (
            read_counts["reader"].groupby(["arm", "ref_label", "label"], as_index=False)["n"].sum()
        )
        tables["comparisons"] = parallel_comparisons(per_arm, outcomes, alpha=alpha)
        differences = _endpoint_difference(tables["comparisons"], endpoint, "parallel")
    elif choice.design == "paired":
        units = {
            (a, b): paired_units(
                con, scope, a, b, by_reader=choice.pair_by_reader, use_ratings=choice.use_ratings
            )
            for a, b in arm_pairs(arms)
        }
        tables["paired"] = paired_comparisons(
            units, outcomes, alpha=alpha, use_ratings=choice.use_ratings
        )
        differences = _endpoint_difference(tables["paired"], endpoint, "paired")
    else:
        assert reads is not None
        tables.update(mrmc_tables(frame, alpha=alpha))
        tables["endpoint"] = _mrmc_endpoint(reads, two, endpoint, tables["mrmc"], alpha)
        differences = []
    if differences:
        tables["endpoint"] = pd.concat(
            [tables["endpoint"], pd.DataFrame(differences)], ignore_index=True
        )
    # counts stay whole numbers next to the difference rows' empty cells
    tables["endpoint"] = tables["endpoint"].astype({"events": "Int64", "denominator": "Int64"})
    if choice.design != "mrmc":
        tables["cluster_adjusted"] = cluster_comparisons(read_counts, arms, outcomes, alpha=alpha)
    tables["agreement"] = _agreement(con, scope, two, alpha, reads)
    return TrialTables(choice, tables)


def _design_table(choice: DesignChoice, endpoint: str) -> pd.DataFrame:
    rows = [
        ("design analysed", choice.design),
        ("design requested", choice.requested),
        ("why", choice.reason),
        ("arms", ", ".join(choice.arms)),
        ("comparison direction", "first arm minus second, arms in sorted order"),
        ("endpoint", endpoint),
        ("reader AUC score", "ratings" if choice.use_ratings else "0/1 labels (no ratings)"),
        ("zero-cell convention", ZERO_CELLS),
        (
            "unit of analysis",
            (
                "reader measures are averages over readers, with intervals that treat readers "
                "and cases as random (Obuchowski-Rockette); a case (study x finding) for the "
                "AI and for prevalence; a case read in two arms counts in both arms"
            )
            if choice.design == "mrmc"
            else "a read (reader x case) for reader measures; a case (study x "
            "finding) for the AI; a case read in two arms counts in both arms",
        ),
    ]
    rows += [(f"count: {k}", str(v)) for k, v in choice.facts.items() if k != "arms"]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": object})


def _agreement(
    con: duckdb.DuckDBPyConnection,
    scope: TrialScope,
    two: pd.DataFrame,
    alpha: float,
    reads: CrossedReads | None = None,
) -> pd.DataFrame:
    overall = two[two["dimension"] == "overall"]
    rows = [] if reads is None else mrmc_reader_agreement(reads, alpha=alpha)
    for r in overall.itertuples(index=False):
        if r.subject == "AI" and r.arm != ALL_CASES:
            continue
        if r.subject == "readers" and reads is not None:
            continue  # reader-averaged above: pooled reads are not independent
        who = f"AI {r.model} vs reference" if r.subject == "AI" else "readers vs reference"
        rows += table_agreement(who, r.arm, r.tp, r.fp, r.fn, r.tn, alpha=alpha)
    rows += reader_agreement_rows(
        rater_counts(con, scope), reader_pair_tables(con, scope), alpha=alpha
    )
    return pd.DataFrame(rows)
