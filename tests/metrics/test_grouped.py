"""Grouped summaries from the store: counts, AUC/DeLong, intervals, reference standard, cache."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import proportion_confint

import metrics
import metrics._grouped as grouped
from metrics import (
    Filters,
    cohen_kappa_table,
    discordant_cases,
    label_completeness,
    overview_counts,
    percent_agreement_table,
    reader_agreement,
    roc_auc,
    summarize,
)
from metrics._cache import RESULTS
from metrics._grouped import estimates_from_counts, placement_auc
from radqa.errors import InputError
from radqa.store import memory_store, refresh_reference

T0 = datetime(2025, 3, 10, 9, 0)


def insert(con, table: str, rows: pd.DataFrame) -> None:
    """Insert a DataFrame by column name (missing nullable columns become NULL)."""
    con.register("rows_df", rows)
    con.execute(f"insert into {table} by name select * from rows_df")
    con.unregister("rows_df")


def add_predictions(con, frame: pd.DataFrame) -> None:
    defaults = {
        "finding": "ich",
        "model_name": "m",
        "model_version": "1",
        "threshold": 0.5,
        "threshold_source": "file",
        "row_hash": 0,
        "batch_id": 1,
    }
    frame = frame.copy()
    for col, value in defaults.items():
        if col not in frame:
            frame[col] = value
    if "predicted" not in frame:
        frame["predicted"] = frame["score"] >= frame["threshold"]
    insert(con, "predictions", frame)


def add_reads(con, frame: pd.DataFrame) -> None:
    defaults = {
        "finding": "ich",
        "reader_pid": "r1",
        "read_role": "primary",
        "arm": "",
        "read_datetime": T0,
        "row_hash": 0,
        "batch_id": 2,
    }
    frame = frame.copy()
    for col, value in defaults.items():
        if col not in frame:
            frame[col] = value
    insert(con, "reads", frame)
    refresh_reference(con)  # what ingest does after each reads batch


def random_store(seed: int = 7, n: int = 1200, pending_share: float = 0.1):
    """Studies at 3 sites x 2 modalities, tied scores (1 decimal), single primary reads."""
    rng = np.random.default_rng(seed)
    con = memory_store()
    uid = [f"st{i}" for i in range(n)]
    studies = pd.DataFrame(
        {
            "study_uid": uid,
            "site": rng.choice(["A", "B", "C"], n),
            "modality": rng.choice(["CT", "CR"], n),
            "study_datetime": [T0 + timedelta(days=int(d)) for d in rng.integers(0, 200, n)],
            "patient_age": rng.integers(0, 100, n),
            "patient_pid": [f"pid{i}" for i in range(n)],
        }
    )
    insert(con, "studies", studies)
    truth = rng.integers(0, 2, n)
    score = np.round(np.clip(0.35 * truth + 0.65 * rng.random(n), 0, 1), 1)
    add_predictions(con, pd.DataFrame({"study_uid": uid, "score": score}))
    labelled = rng.random(n) >= pending_share
    add_reads(con, pd.DataFrame({"study_uid": np.array(uid)[labelled], "label": truth[labelled]}))
    frame = studies.assign(score=score, truth=np.where(labelled, truth, -1))
    return con, frame


# ---------------------------------------------------------------- counts and estimates
def test_confusion_counts_and_pending_equal_a_pandas_oracle():
    con, frame = random_store()
    out = summarize(con, by=("site", "modality"), min_n=1)
    frame["pred"] = frame["score"] >= 0.5
    for (site, modality), g in frame.groupby(["site", "modality"]):
        row = out[(out.site == site) & (out.modality == modality)].iloc[0]
        lab = g[g.truth >= 0]
        expected = {
            "n": len(g),
            "pending": int((g.truth < 0).sum()),
            "n_labelled": len(lab),
            "tp": int((lab.pred & (lab.truth == 1)).sum()),
            "fp": int((lab.pred & (lab.truth == 0)).sum()),
            "fn": int((~lab.pred & (lab.truth == 1)).sum()),
            "tn": int((~lab.pred & (lab.truth == 0)).sum()),
        }
        assert {k: int(row[k]) for k in expected} == expected
    assert out["n"].sum() == 1200
    assert len(out) == 6


def test_auc_and_delong_equal_roc_auc_per_group_with_ties():
    con, frame = random_store(seed=3)
    out = summarize(con, by=("site", "modality"), min_n=1)
    lab = frame[frame.truth >= 0]
    assert lab["score"].nunique() <= 11  # heavy ties
    for (site, modality), g in lab.groupby(["site", "modality"]):
        row = out[(out.site == site) & (out.modality == modality)].iloc[0]
        ref = roc_auc(g.truth, g.score)
        assert row.auc == pytest.approx(ref.value, abs=1e-12)
        assert row.auc_se == pytest.approx(ref.se, abs=1e-12)
        assert row.auc_low == pytest.approx(ref.low, abs=1e-12)
        assert row.auc_high == pytest.approx(ref.high, abs=1e-12)
        assert row.auc == pytest.approx(roc_auc_score(g.truth, g.score), abs=1e-12)


def test_placement_auc_matches_roc_auc_for_unsorted_input_and_a_single_positive():
    rng = np.random.default_rng(11)
    sizes_pos, sizes_neg = np.array([1, 5, 40, 0]), np.array([9, 1, 60, 4])
    pos = [rng.integers(0, 5, k) / 4 for k in sizes_pos]
    neg = [rng.integers(0, 5, k) / 5 for k in sizes_neg]
    auc, s10, s01 = placement_auc(sizes_pos, np.concatenate(pos), sizes_neg, np.concatenate(neg))
    for i in range(3):
        truth = np.r_[np.ones(sizes_pos[i]), np.zeros(sizes_neg[i])]
        ref = roc_auc(truth, np.r_[pos[i], neg[i]])
        var = np.nan_to_num(s10[i]) / sizes_pos[i] + np.nan_to_num(s01[i]) / sizes_neg[i]
        if ref.note:  # DeLong's variance is 0: roc_auc says not estimable
            assert var == 0.0 and "variance is 0" in ref.note
            continue
        assert auc[i] == pytest.approx(ref.value, abs=1e-12)
        assert math.sqrt(var) == pytest.approx(ref.se, abs=1e-12)
    assert np.isnan(s10[0]) and np.isnan(s01[1])  # one case: no sample variance
    assert np.isnan(auc[3])  # no positive


def test_wilson_intervals_kappa_and_agreement_equal_the_library_functions():
    con, frame = random_store(seed=5)
    out = summarize(con, by=("site",), min_n=1, alpha=0.1)
    for _, row in out.iterrows():
        low, high = proportion_confint(row.tp, row.tp + row.fn, alpha=0.1, method="wilson")
        assert (row.sensitivity_low, row.sensitivity_high) == pytest.approx((low, high), abs=1e-15)
        low, high = proportion_confint(row.tn, row.tn + row.fp, alpha=0.1, method="wilson")
        assert (row.specificity_low, row.specificity_high) == pytest.approx((low, high), abs=1e-15)
        table = np.array([[row.tp, row.fp], [row.fn, row.tn]])  # rows AI, columns reference
        kappa = cohen_kappa_table(table, alpha=0.1)
        assert (row.kappa, row.kappa_se) == pytest.approx((kappa.value, kappa.se), abs=1e-12)
        assert (row.kappa_low, row.kappa_high) == pytest.approx((kappa.low, kappa.high), abs=1e-12)
        agree = percent_agreement_table(table, alpha=0.1)
        assert (row.agreement, row.agreement_low, row.agreement_high) == pytest.approx(
            (agree.value, agree.low, agree.high), abs=1e-12
        )
        assert row.accuracy == pytest.approx((row.tp + row.tn) / row.n_labelled, abs=1e-15)
    assert out.attrs["methods"]["proportions"].startswith("Wilson")


def test_counts_of_two_periods_add_up_to_the_whole():
    con, _ = random_store(seed=9)
    whole = summarize(con, by=("site",), min_n=1)
    monthly = summarize(con, by=("site",), period="month", min_n=1)
    summed = monthly.groupby("site")[["n", "pending", "tp", "fp", "fn", "tn"]].sum()
    assert summed.to_dict() == whole.set_index("site")[summed.columns].to_dict()


# ---------------------------------------------------------------- reference standard
def _precedence_store():
    """Six studies, each a precedence case; all predictions say 1 with score 0.9."""
    con = memory_store()
    uid = [f"p{i}" for i in range(6)]
    insert(con, "studies", pd.DataFrame({"study_uid": uid, "site": "A", "study_datetime": T0}))
    add_predictions(con, pd.DataFrame({"study_uid": uid, "score": 0.9}))
    t = [T0 + timedelta(hours=h) for h in range(4)]
    reads = [
        # p0: two readers say 1, the adjudicator says 0 -> 0 (adjudication beats majority)
        ("p0", "a", "primary", "", 1, t[0]),
        ("p0", "b", "second", "", 1, t[1]),
        ("p0", "c", "adjudication", "", 0, t[2]),
        # p1: tie, primary says 0 (later than the second's 1) -> the primary read: 0
        ("p1", "a", "second", "", 1, t[0]),
        ("p1", "b", "primary", "", 0, t[1]),
        # p2: majority 2 of 3 say 0 -> 0
        ("p2", "a", "primary", "", 1, t[0]),
        ("p2", "b", "second", "", 0, t[1]),
        ("p2", "c", "second", "", 0, t[2]),
        # p3: only a trial-arm read -> pending (arm reads are not the reference)
        ("p3", "a", "primary", "AI-assisted", 1, t[0]),
        # p4: no read at all -> pending, never negative
        # p5: consensus 1 beats a primary 0; two consensus reads -> the latest (1)
        ("p5", "a", "primary", "", 0, t[0]),
        ("p5", "b", "consensus", "", 0, t[1]),
        ("p5", "c", "consensus", "", 1, t[2]),
    ]
    cols = ["study_uid", "reader_pid", "read_role", "arm", "label", "read_datetime"]
    add_reads(con, pd.DataFrame(reads, columns=cols))
    return con


def test_reference_standard_precedence():
    con = _precedence_store()
    out = summarize(con, by=(), min_n=1)
    row = out.iloc[0]
    # p0 -> 0, p1 -> 0, p2 -> 0, p5 -> 1; p3, p4 pending; every prediction is positive
    assert (row.n, row.pending, row.tp, row.fp, row.fn, row.tn) == (6, 2, 1, 3, 0, 0)
    ref = con.execute("select study_uid, ref_source from reference_standard")
    sources = dict(ref.fetchall())
    assert sources == {
        "p0": "adjudication",
        "p1": "majority tie: primary read",
        "p2": "majority",
        "p5": "consensus",
    }


def _reference_oracle(reads: pd.DataFrame) -> dict[str, tuple[int, str]]:
    """The precedence rule of ARCHITECTURE.md written plainly in pandas, one item at a time."""
    out = {}
    for uid, g in reads[reads["arm"] == ""].groupby("study_uid"):
        g = g.sort_values(["read_datetime", "label"])
        adj, cons = g[g.read_role == "adjudication"], g[g.read_role == "consensus"]
        indep = g[g.read_role.isin(["primary", "second"])]
        if len(adj):
            out[uid] = (int(adj.label.iloc[-1]), "adjudication")
        elif len(cons):
            out[uid] = (int(cons.label.iloc[-1]), "consensus")
        elif 2 * indep.label.sum() != len(indep):
            source = "single read" if len(indep) == 1 else "majority"
            out[uid] = (int(2 * indep.label.sum() > len(indep)), source)
        else:
            primary = indep[indep.read_role == "primary"]
            first = primary if len(primary) else indep
            out[uid] = (int(first.label.iloc[0]), "majority tie: primary read")
    return out


def test_reference_standard_equals_a_plain_oracle_on_random_reads():
    con = memory_store()
    rng = np.random.default_rng(2)
    n = 400
    roles = rng.choice(
        ["primary", "second", "consensus", "adjudication"], n, p=[0.5, 0.3, 0.1, 0.1]
    )
    reads = pd.DataFrame(
        {
            "study_uid": [f"q{i}" for i in rng.integers(0, 120, n)],
            "reader_pid": [f"r{i}" for i in range(n)],
            "read_role": roles,
            "arm": rng.choice(["", "", "", "arm B"], n),
            "label": rng.integers(0, 2, n),
            "read_datetime": [T0 + timedelta(minutes=int(i)) for i in rng.permutation(n)],
        }
    )
    add_reads(con, reads)
    got = {
        uid: (label, source)
        for uid, label, source in con.execute(
            "select study_uid, ref_label, ref_source from reference_standard"
        ).fetchall()
    }
    expected = _reference_oracle(reads)
    assert len(expected) > 80
    assert got == expected


# ---------------------------------------------------------------- insufficient groups
def test_small_groups_and_missing_classes_are_flagged_with_nan_estimates():
    con = memory_store()
    uid = [f"s{i}" for i in range(70)]
    site = ["big"] * 40 + ["small"] * 10 + ["allneg"] * 20
    insert(con, "studies", pd.DataFrame({"study_uid": uid, "site": site, "study_datetime": T0}))
    add_predictions(con, pd.DataFrame({"study_uid": uid, "score": np.linspace(0, 1, 70)}))
    label = [i % 2 for i in range(50)] + [0] * 20
    add_reads(con, pd.DataFrame({"study_uid": uid, "label": label}))
    out = summarize(con, by=("site",), min_n=15).set_index("site")
    assert out.loc["small", "insufficient_reason"] == "10 labelled case(s), fewer than min_n = 15"
    assert out.loc["small", "tp"] + out.loc["small", "tn"] + out.loc["small", "fp"] >= 1
    estimate_cols = [c for c in out.columns if c.split("_")[0] in ("sensitivity", "auc", "kappa")]
    assert out.loc["small", estimate_cols].isna().all()
    assert math.isnan(out.loc["small", "accuracy"])
    assert out.loc["allneg", "insufficient_reason"] == "no reference-positive case"
    assert math.isnan(out.loc["allneg", "sensitivity"]) and math.isnan(out.loc["allneg", "auc"])
    assert out.loc["allneg", "specificity"] == pytest.approx(
        out.loc["allneg", "tn"] / 20, abs=1e-15
    )
    assert not out.loc["big", "insufficient"] and pd.isna(out.loc["big", "insufficient_reason"])


# ---------------------------------------------------------------- groups, filters, periods
def test_unknown_group_name_lists_the_valid_ones():
    con = memory_store()
    with pytest.raises(InputError) as err:
        summarize(con, by=("site", "hospital"))
    assert str(err.value) == (
        "unknown group-by column(s) ['hospital']; valid names are: age_band, ai_assisted, arm, "
        "body_part, finding, modality, model_name, model_version, patient_sex, "
        "scanner_manufacturer, scanner_model, scanner_software, site"
    )
    with pytest.raises(InputError, match="unknown period 'year'; valid periods are: month"):
        summarize(con, period="year")


def test_period_labels_month_quarter_iso_week():
    con = memory_store()
    days = [date(2024, 12, 30), date(2025, 1, 5), date(2025, 4, 1)]
    uid = ["a", "b", "c"]
    insert(con, "studies", pd.DataFrame({"study_uid": uid, "study_datetime": pd.to_datetime(days)}))
    add_predictions(con, pd.DataFrame({"study_uid": uid, "score": 0.7}))
    labels = {
        period: summarize(con, by=(), period=period)["period"].tolist()
        for period in ("month", "quarter", "week")
    }
    assert labels == {
        "month": ["2024-12", "2025-01", "2025-04"],
        "quarter": ["2024-Q4", "2025-Q1", "2025-Q2"],
        "week": ["2025-W01", "2025-W14"],  # 30 Dec 2024 and 5 Jan 2025 are both ISO week 1
    }


def test_filters_restrict_sites_and_dates():
    con, frame = random_store(seed=4)
    f = Filters(site=["A", "C"], date_from=date(2025, 4, 1), date_to=date(2025, 5, 31))
    out = summarize(con, by=("site",), filters=f, min_n=1)
    day = frame["study_datetime"].dt.date
    keep = frame[
        frame.site.isin(["A", "C"]) & (day >= date(2025, 4, 1)) & (day <= date(2025, 5, 31))
    ]
    assert out.set_index("site")["n"].to_dict() == keep.groupby("site").size().to_dict()


def test_age_band_and_arm_groups():
    con = memory_store()
    ages = [5, 17, 18, 39, 40, 64, 65, 79, 80, 101, None]
    uid = [f"s{i}" for i in range(len(ages))]
    insert(con, "studies", pd.DataFrame({"study_uid": uid, "patient_age": ages}))
    add_predictions(con, pd.DataFrame({"study_uid": uid, "score": 0.2}))
    add_reads(con, pd.DataFrame({"study_uid": uid[:2], "label": 0, "arm": ["X", "Y"]}))
    add_reads(con, pd.DataFrame({"study_uid": uid[:1], "label": 0, "arm": ["Y"]}))
    bands = summarize(con, by=("age_band",))
    assert bands["age_band"].tolist()[:5] == ["0-17", "18-39", "40-64", "65-79", "80+"]
    assert bands["n"].tolist() == [2, 2, 2, 2, 2, 1]  # the last group: age unknown
    assert pd.isna(bands["age_band"].iloc[5])
    arms = summarize(con, by=("arm",)).set_index("arm")["n"]
    assert arms.to_dict() == {"": 9, "X": 1, "Y": 2}


# ---------------------------------------------------------------- cache
def test_snapshot_results_are_cached(monkeypatch):
    con, _ = random_store(seed=1)
    con.execute("create table snapshot_info as select 'snap-1' as snapshot_id")
    RESULTS.clear()
    calls = []
    real = grouped.summary_counts
    monkeypatch.setattr(grouped, "summary_counts", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = summarize(con, by=("site",))
    second = summarize(con, by=("site",))
    pd.testing.assert_frame_equal(first, second)
    assert len(calls) == 1 and first.attrs["snapshot_id"] == "snap-1"
    second.loc[0, "n"] = -1  # a caller's edit does not reach the cache
    assert summarize(con, by=("site",)).loc[0, "n"] == first.loc[0, "n"]
    con.execute("update snapshot_info set snapshot_id = 'snap-2'")
    summarize(con, by=("site",))
    assert len(calls) == 2


def test_no_cache_without_a_snapshot(monkeypatch):
    con, _ = random_store(seed=1)
    calls = []
    real = grouped.summary_counts
    monkeypatch.setattr(grouped, "summary_counts", lambda *a, **k: calls.append(1) or real(*a, **k))
    summarize(con, by=("site",))
    summarize(con, by=("site",))
    assert len(calls) == 2


# ---------------------------------------------------------------- other views
def test_label_completeness():
    con, frame = random_store(seed=6, pending_share=0.25)
    out = label_completeness(con, by=("site",)).set_index("site")
    for site, g in frame.groupby("site"):
        labelled = int((g.truth >= 0).sum())
        assert (out.loc[site, "n"], out.loc[site, "labelled"]) == (len(g), labelled)
        assert out.loc[site, "pending"] == len(g) - labelled
        assert out.loc[site, "completeness"] == pytest.approx(labelled / len(g), abs=1e-15)


def test_discordant_cases_lists_false_negatives_and_positives():
    con, frame = random_store(seed=8)
    lab = frame[frame.truth >= 0]
    fn = lab[(lab.score < 0.5) & (lab.truth == 1)]
    fp = lab[(lab.score >= 0.5) & (lab.truth == 0)]
    out_fn = discordant_cases(con, kind="fn", limit=10_000)
    assert sorted(out_fn.study_uid) == sorted(fn.study_uid)
    assert set(out_fn.kind) == {"fn"} and (out_fn.ref_label == 1).all()
    both = discordant_cases(con, kind="both", limit=5)
    assert len(both) == 5
    margins = (both.score - both.threshold).abs().tolist()
    assert margins == sorted(margins, reverse=True)
    assert len(discordant_cases(con, kind="fp", limit=10_000)) == len(fp)
    assert {"patient_pid", "ref_source", "site"} <= set(both.columns)
    assert set(both.n_readers) == {1} and set(both.ref_source) == {"single read"}
    with pytest.raises(InputError, match="unknown kind 'tp'; valid kinds are: fn, fp, both"):
        discordant_cases(con, kind="tp")


def test_overview_counts():
    con, frame = random_store(seed=2)
    counts = overview_counts(con)
    labelled = int((frame.truth >= 0).sum())
    assert counts == {
        "studies": 1200,
        "predictions": 1200,
        "reads": labelled,
        "batches": 0,
        "refused_batches": 0,
        "quarantined": 0,
        "quarantined_open": 0,
        "labelled": labelled,
        "pending": 1200 - labelled,
        "snapshot_id": None,
    }


# ---------------------------------------------------------------- reader agreement
def test_reader_agreement_two_and_three_readers():
    con = memory_store()
    n = 60
    uid = [f"s{i}" for i in range(n)]
    insert(con, "studies", pd.DataFrame({"study_uid": uid, "site": "A", "study_datetime": T0}))
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, n)
    b = np.where(rng.random(n) < 0.8, a, 1 - a)
    c = np.where(rng.random(n) < 0.7, a, 1 - a)
    third = np.arange(n) < 30  # a third reader on the first 30 items
    rows = [
        (u, "ra", "primary", "", int(x), T0 + timedelta(hours=1))
        for u, x in zip(uid, a, strict=True)
    ]
    rows += [
        (u, "rb", "second", "", int(x), T0) for u, x in zip(uid, b, strict=True)
    ]  # earlier, not primary
    rows += [
        (u, "rc", "second", "", int(x), T0) for u, x, t in zip(uid, c, third, strict=True) if t
    ]
    rows += [(u, "rz", "adjudication", "", 1, T0) for u in uid]  # not an independent read
    rows += [(u, "rx", "second", "arm B", 0, T0) for u in uid]  # trial arm: left out
    cols = ["study_uid", "reader_pid", "read_role", "arm", "label", "read_datetime"]
    add_reads(con, pd.DataFrame(rows, columns=cols))
    out = reader_agreement(con, by=("site",)).iloc[0]
    table = np.zeros((2, 2))
    np.add.at(table, (a, b), 1)  # primary reader first, then the second reader
    kappa = cohen_kappa_table(table)
    assert (out.n_items, out.n_items_3) == (60, 30)
    assert (out.kappa, out.kappa_low, out.kappa_high) == pytest.approx(
        (kappa.value, kappa.low, kappa.high), abs=1e-12
    )
    assert out.agreement == pytest.approx(float((a == b).mean()), abs=1e-15)
    from metrics import fleiss_kappa, gwet_ac1

    pos = (a + b + c)[third]
    counts = np.column_stack([3 - pos, pos])
    assert out.fleiss_kappa == pytest.approx(fleiss_kappa(counts).value, abs=1e-12)
    assert out.ac1 == pytest.approx(gwet_ac1(counts).value, abs=1e-12)
    arms = reader_agreement(con, by=("arm",)).set_index("arm")
    assert arms.loc["", "n_items"] == 60 and "arm B" not in arms.index  # one arm-B reader only


def test_model_versions_first_and_last_month_and_counts():
    con = memory_store()
    con.execute(
        """
        insert into studies (study_uid, site, study_datetime)
        select 's' || i, 'A', timestamp '2025-01-15' + to_days(30 * (i % 6)) from range(60) t(i)
        """
    )
    con.execute(
        """
        insert into predictions (study_uid, finding, model_name, model_version, score, predicted,
                                 threshold, threshold_source, row_hash, batch_id)
        select 's' || i, 'ich', 'M', case when i % 6 < 3 then '1.0' else '1.1' end, 0.5, true,
               0.5, 'file', 0, 1
        from range(60) t(i)
        """
    )
    table = metrics.model_versions(con)
    assert table.to_dict("records") == [
        {"model_name": "M", "model_version": "1.0", "first_month": "2025-01",
         "last_month": "2025-03", "predictions": 30},
        {"model_name": "M", "model_version": "1.1", "first_month": "2025-04",
         "last_month": "2025-06", "predictions": 30},
    ]  # fmt: skip
    only_site_b = metrics.model_versions(con, filters=metrics.Filters(site=("B",)))
    assert only_site_b.empty


def test_counts_per_score_give_the_placement_values_of_every_case():
    from metrics._score_counts import score_count_auc

    rng = np.random.default_rng(5)
    sizes = [40, 1, 25, 60]
    n_pos, n_neg, pos, neg = [], [], [], []
    cells_g, cells_p, cells_n = [], [], []
    for g, size in enumerate(sizes):
        scores = rng.integers(0, 12, size) / 11  # many ties
        truth = rng.random(size) < 0.4 if size > 1 else np.array([True])
        p, q = np.sort(scores[truth]), np.sort(scores[~truth])
        n_pos.append(p.size), n_neg.append(q.size), pos.extend(p), neg.extend(q)
        for value in np.unique(scores):
            cells_g.append(g)
            cells_p.append(float((p == value).sum()))
            cells_n.append(float((q == value).sum()))
    expected = placement_auc(np.array(n_pos), np.array(pos), np.array(n_neg), np.array(neg))
    got = score_count_auc(np.array(cells_g), np.array(cells_p), np.array(cells_n))
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[0][1]) and np.isfinite(got[0][[0, 2, 3]]).all()  # group 1: no negative


def test_class_minimum_and_zero_variance_make_estimates_not_estimable():
    # Seoul consolidation in the reviewer's report: 1 positive, 70 negatives, "AUC 1.00
    # (1.00-1.00)" and a sensitivity from one case although 71 >= min_n labelled cases
    raw = pd.DataFrame(
        {
            "g": ["one positive", "separated", "ordinary"],
            "n": [71, 40, 60], "pending": [0, 0, 0],
            "tp": [1, 10, 6], "fp": [3, 0, 4], "fn": [0, 0, 2], "tn": [67, 30, 48],
            "auc": [1.0, 1.0, 0.9], "s10": [np.nan, 0.0, 0.01], "s01": [0.0, 0.0, 0.02],
        }
    )  # fmt: skip
    out = estimates_from_counts(raw, keys=["g"], alpha=0.05, min_n=30).set_index("g")
    one = out.loc["one positive"]
    assert np.isnan([one.sensitivity, one.sensitivity_low, one.auc, one.auc_low, one.kappa]).all()
    assert one.specificity == pytest.approx(67 / 70)  # 70 negatives: specificity stands
    assert not one.insufficient  # min_n semantics unchanged
    assert one.not_estimable == (
        "sensitivity: 1 reference-positive case(s), fewer than min_class = 5; "
        "auc: 1 reference-positive case(s), fewer than min_class = 5; "
        "kappa: 1 reference-positive case(s), fewer than min_class = 5"
    )
    assert one.insufficient_reason == one.not_estimable
    sep = out.loc["separated"]  # DeLong and Gwet variances 0: no zero-width interval
    assert np.isnan([sep.auc, sep.auc_low, sep.auc_high, sep.kappa, sep.kappa_low]).all()
    assert sep.not_estimable.startswith("auc: DeLong variance is 0")
    assert sep.sensitivity == 1.0 and sep.sensitivity_low == pytest.approx(0.7225, abs=1e-4)
    # 100% agreement: Wilson's interval of 40/40 instead of Gwet's zero-width one
    assert sep.agreement == 1.0 and sep.agreement_low == pytest.approx(0.9124, abs=1e-4)
    ordinary = out.loc["ordinary"]
    assert pd.isna(ordinary.not_estimable) and ordinary.auc == 0.9
    assert ordinary.auc_low == pytest.approx(0.9 - 1.959964 * math.sqrt(0.01 / 8 + 0.02 / 52))
    fewer = estimates_from_counts(raw, keys=["g"], alpha=0.05, min_n=30, min_class=1)
    assert fewer.set_index("g").loc["one positive", "sensitivity"] == 1.0
