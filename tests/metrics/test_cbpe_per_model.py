"""Estimated vs realised per AI model and version, under filters (a reviewer's Drift page row).

The reviewer's row "Osaka · lung_nodule" pooled the CT nodule model (26 predictions) with the
chest X-ray triage model (133): its realised 66.7% was 6 of 9 positives of both, and the Site and
Modality filters changed nothing. Here one site and finding is scored by two models on two
modalities, with counts chosen so every expected value is worked out by hand.

Reference window 2025-01..2025-02; each model scores 100 reference studies at 0.9 (called
positive) and 100 at 0.1 (called negative):
- ``CT-Nodule`` (CT): 80 of the 0.9s and 10 of the 0.1s positive -> calibrated p = 0.8, 0.1;
- ``XR-Triage`` (CR): 60 of the 0.9s and 20 of the 0.1s positive -> calibrated p = 0.6, 0.2.
Month 2025-03, per model: 50 pending at 0.9 and 50 at 0.1, and 40 read:
- CT-Nodule: 18 TP, 2 FN, 20 TN -> realised sensitivity 18/20 = 0.9, accuracy 38/40;
  estimate E[TP] = 50 * 0.8 = 40, E[FN] = 50 * 0.1 = 5 -> 40/45;
- XR-Triage: 10 TP, 10 FN, 20 TN -> realised sensitivity 10/20 = 0.5, accuracy 30/40;
  estimate E[TP] = 50 * 0.6 = 30, E[FN] = 50 * 0.2 = 10 -> 30/40 = 0.75.
Pooled (the old rows), the estimate was 70/85 and the realised sensitivity 28/40.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest

import metrics
from metrics import Filters, ReferenceWindow
from metrics._cbpe import pending_sql
from radqa.errors import InputError
from radqa.store import memory_store, refresh_reference

REFERENCE = ReferenceWindow("2025-01", "2025-02")
MODELS = {"CT-Nodule": "CT", "XR-Triage": "CR"}


def _block(
    con: Any, key: str, *, model: str, version: str, month: str, n: int, score: float,
    label: int | None, site: str = "A",
) -> None:  # fmt: skip
    """``n`` studies of ``model``'s modality at ``site`` in ``month``, each scored ``score``
    (called positive above 0.5) on finding ``nodule``; ``label`` None leaves them unread."""
    prefix = f"{key}."
    con.execute(
        """insert into studies (study_uid, site, modality, scanner_manufacturer, scanner_model,
            scanner_software, study_datetime, patient_sex)
        select $prefix || i, $site, $modality, 'Acme', $modality || '-1', 'v1',
            $day::timestamp + to_days(i::integer % 27) + interval 10 hour, 'F'
        from range($n) t(i)""",
        {"prefix": prefix, "site": site, "modality": MODELS[model], "day": f"{month}-01", "n": n},
    )
    con.execute(
        """insert into predictions (study_uid, finding, model_name, model_version, score,
            predicted, threshold, threshold_source, row_hash, batch_id)
        select $prefix || i, 'nodule', $model, $version, $score, $score > 0.5, 0.5, 'file', 0, 1
        from range($n) t(i)""",
        {"prefix": prefix, "model": model, "version": version, "score": score, "n": n},
    )
    if label is not None:
        con.execute(
            """insert into reads (study_uid, finding, reader_pid, read_role, arm, label,
                read_datetime, ai_assisted, row_hash, batch_id)
            select $prefix || i, 'nodule', 'R1', 'primary', '', $label,
                $day::timestamp + to_days(i::integer % 27) + interval 12 hour, false, 0, 2
            from range($n) t(i)""",
            {"prefix": prefix, "day": f"{month}-01", "n": n, "label": label},
        )


def two_model_store(*, ct_version: str = "1", xr_version: str = "2", month_ct: str = "") -> Any:
    """The store of the module docstring; ``month_ct`` is CT-Nodule's version in 2025-03
    (default: ``ct_version``, the reference's)."""
    con = memory_store()
    calibration = {"CT-Nodule": (80, 10), "XR-Triage": (60, 20)}  # positives of 100 at .9, .1
    realised = {"CT-Nodule": (18, 2), "XR-Triage": (10, 10)}  # TP, FN; and 20 TN each
    k = 0
    for model, version in (("CT-Nodule", ct_version), ("XR-Triage", xr_version)):
        hi, lo = calibration[model]
        for month in ("2025-01", "2025-02"):
            for n, score, label in ((hi // 2, 0.9, 1), (50 - hi // 2, 0.9, 0),
                                    (lo // 2, 0.1, 1), (50 - lo // 2, 0.1, 0)):  # fmt: skip
                k += 1
                _block(con, f"b{k}", model=model, version=version, month=month, n=n,
                       score=score, label=label)  # fmt: skip
        now = (month_ct or ct_version) if model == "CT-Nodule" else version
        tp, fn = realised[model]
        for n, score, label in ((50, 0.9, None), (50, 0.1, None), (tp, 0.9, 1), (fn, 0.1, 1),
                                (20, 0.1, 0)):  # fmt: skip
            k += 1
            _block(con, f"b{k}", model=model, version=now, month="2025-03", n=n, score=score,
                   label=label)  # fmt: skip
    refresh_reference(con)
    return con


def _rows(df: pd.DataFrame, metric: str) -> dict[str, pd.Series]:
    return {r["model_name"]: r for _, r in df[df["metric"] == metric].iterrows()}


def _estimates(con: Any) -> pd.DataFrame:
    """``estimate_performance`` per site, finding, model and version (the keys named)."""
    return metrics.estimate_performance(
        con, month="2025-03", reference=REFERENCE,
        by=("site", "finding", "model_name", "model_version"),
    )  # fmt: skip


def test_one_row_per_model_with_its_own_estimate_and_realised_value() -> None:
    con = two_model_store()
    out = metrics.estimated_vs_realised(con, month="2025-03", reference=REFERENCE)
    assert list(out.columns[:5]) == ["site", "finding", "model_name", "model_version", "metric"]
    sens = _rows(out, "sensitivity")
    assert sorted(sens) == ["CT-Nodule", "XR-Triage"]  # not one pooled "A · nodule" row
    ct, xr = sens["CT-Nodule"], sens["XR-Triage"]
    assert (ct["model_version"], xr["model_version"]) == ("1", "2")
    assert ct["estimate"] == pytest.approx(40 / 45) and xr["estimate"] == pytest.approx(0.75)
    assert ct["realised"] == pytest.approx(0.9) and xr["realised"] == pytest.approx(0.5)
    assert ct["difference"] == pytest.approx(0.9 - 40 / 45)
    # the realised value's own Wilson interval comes along
    assert ct["realised_low"] < 0.9 < ct["realised_high"] and xr["realised_high"] < 0.75
    assert (ct["n_pending"], ct["n_estimated"], ct["n_read"]) == (100, 100, 40)
    acc = _rows(out, "accuracy")
    assert acc["CT-Nodule"]["realised"] == pytest.approx(38 / 40)
    assert acc["XR-Triage"]["realised"] == pytest.approx(30 / 40)
    # E[TP] + E[TN]: CT 40 + 45, XR 30 + 40, of 100 each
    assert acc["CT-Nodule"]["estimate"] == pytest.approx(0.85)
    assert acc["XR-Triage"]["estimate"] == pytest.approx(0.70)
    assert out.attrs["n_pending"] == 200 and "Wilson" in out.attrs["methods"]["realised"]
    # the report's estimate table is split the same way, whatever ``by`` names
    est = metrics.estimate_performance(
        con, month="2025-03", reference=REFERENCE, by=("site", "finding")
    )
    assert est[["model_name", "model_version", "n_pending"]].to_dict("records") == [
        {"model_name": "CT-Nodule", "model_version": "1", "n_pending": 100.0},
        {"model_name": "XR-Triage", "model_version": "2", "n_pending": 100.0},
    ]


def test_filters_choose_the_cases_of_both_halves_and_the_pending_count() -> None:
    con = two_model_store()
    ct = metrics.estimated_vs_realised(
        con, month="2025-03", reference=REFERENCE, filters=Filters(modality=("CT",))
    )
    assert set(ct["model_name"]) == {"CT-Nodule"}
    assert ct.attrs["n_pending"] == 100 and ct.attrs["n_estimated"] == 100
    sens = _rows(ct, "sensitivity")["CT-Nodule"]
    assert sens["realised"] == pytest.approx(0.9) and sens["estimate"] == pytest.approx(40 / 45)
    # a model filter does the same; a site without studies leaves nothing
    xr = metrics.estimated_vs_realised(
        con, month="2025-03", reference=REFERENCE, filters=Filters(model_name=("XR-Triage",))
    )
    assert set(xr["model_name"]) == {"XR-Triage"} and xr.attrs["n_pending"] == 100
    none = metrics.estimated_vs_realised(
        con, month="2025-03", reference=REFERENCE, filters=Filters(site=("B",))
    )
    assert none.empty
    # the filter's own dates are replaced by the month's
    dated = metrics.estimated_vs_realised(
        con,
        month="2025-03",
        reference=REFERENCE,
        filters=Filters(modality=("CT",), date_from=pd.Timestamp("2025-01-01").date()),
    )
    assert dated.attrs["n_pending"] == 100


def test_same_version_string_of_two_models_is_calibrated_apart() -> None:
    """Both models at version "1": the calibration keyed on (version, finding) fitted one curve
    to both (p = 0.7 and 0.15 for each)."""
    con = two_model_store(ct_version="1", xr_version="1")
    est = _estimates(con).set_index("model_name")["sensitivity"]
    assert est.to_dict() == pytest.approx({"CT-Nodule": 40 / 45, "XR-Triage": 0.75})


def test_new_version_falls_back_to_its_own_model_not_the_finding() -> None:
    """CT-Nodule 1.1 appears after the reference window: it is calibrated on CT-Nodule's older
    versions, not on every model's cases of the finding (the X-ray model's included)."""
    con = two_model_store(month_ct="1.1")
    est = _estimates(con).set_index("model_name")
    assert est.loc["CT-Nodule", "model_version"] == "1.1"
    assert est["sensitivity"].to_dict() == pytest.approx({"CT-Nodule": 40 / 45, "XR-Triage": 0.75})


def test_a_reference_of_one_version_estimates_that_version_only() -> None:
    con = two_model_store(ct_version="1", xr_version="1", month_ct="1.1")
    ref = ReferenceWindow("2025-01", "2025-02", model_version="1")
    out = metrics.estimated_vs_realised(con, month="2025-03", reference=ref)
    assert set(zip(out["model_name"], out["model_version"], strict=True)) == {("XR-Triage", "1")}
    assert out.attrs["n_pending"] == 100
    other = metrics.estimated_vs_realised(
        con, month="2025-03", reference=ref, filters=Filters(model_version=("1.1",))
    )
    assert other.empty


EXPECTED_PENDING_SQL = """select c.site as site,
       c.finding as finding,
       c.model_name as model_name,
       c.model_version as model_version,
       least(greatest(floor(c.score * $bins), 0), $bins - 1)::integer as bin,
       c.predicted as predicted,
       count(*) as n
from cases as c
where c.study_datetime >= $date_from
      and c.study_datetime < $date_to_excl
      and c.site in ($site_0)
      and c.modality in ($modality_0)
      and c.ref_label is null
group by all"""


def test_generated_pending_sql_snapshot() -> None:
    """The month's pending cases: the filters' ``where`` of ``summarize`` (values as
    parameters only), plus "no reference standard"."""
    hostile = "A'); drop table predictions; --"
    filters = Filters(
        site=(hostile,),
        modality=("CT",),
        date_from=dt.date(2025, 3, 1),
        date_to=dt.date(2025, 3, 31),
    )
    sql, params = pending_sql(("site", "finding", "model_name", "model_version"), filters, "cases")
    assert sql == EXPECTED_PENDING_SQL and hostile not in sql
    assert params == {"date_from": dt.date(2025, 3, 1), "date_to_excl": dt.date(2025, 4, 1),
                      "site_0": hostile, "modality_0": "CT"}  # fmt: skip
    with pytest.raises(InputError, match="unknown group-by column"):
        pending_sql(("ai_assisted",), filters, "cases")
