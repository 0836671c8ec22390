"""Drift page, Estimated vs realised: one row per AI model version, under the sidebar filters.

A reviewer's screenshots: "Osaka · lung_nodule" pooled CT-Lung with ChestXR-Triage, and with
Site = Osaka and Modality = CT the row and the "979 pending predictions" stayed the same."""

from __future__ import annotations

import metrics
from metrics import Filters
from tests.dashboard.conftest import charts, open_tab

MONTH = "2026-10"
OSAKA = "Osaka University Hospital"


def _pending(con, **filters: tuple[str, ...]) -> int:  # noqa: ANN001
    """Pending predictions of MONTH under ``filters``: an SQL count of its own, not metrics."""
    where = " ".join(f"and s.{k} in (select unnest(${k}))" for k in filters)
    sql = f"""
        select count(*) from predictions p
        join studies s using (study_uid)
        left join reference_standard r on r.study_uid = p.study_uid and r.finding = p.finding
        where r.ref_label is null
          and s.study_datetime >= '2026-10-01' and s.study_datetime < '2026-11-01' {where}
    """
    return int(con.execute(sql, {k: list(v) for k, v in filters.items()}).fetchone()[0])


def test_rows_are_per_model_version_and_follow_site_and_modality(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/drift.py")
    assert at.selectbox(key="dr_month").value == MONTH
    at = open_tab(at, "dr_tab", "Estimated vs realised")
    table = at.dataframe[-1].value
    # the groups, the answer, then the counts (tests/dashboard/test_table_widths.py)
    assert list(table.columns[:3]) == ["site", "finding", "model"]
    assert list(table.columns[-2:]) == ["n_pending", "n_read"]
    osaka = table[(table["site"] == OSAKA) & (table["finding"] == "lung_nodule")]
    # the two AI models reading lung nodules at Osaka are two rows, not one pooled row
    assert set(osaka["model"]) == {"CT-Lung 3.1", "ChestXR-Triage 2.2"}
    every = _pending(con)
    caption = next(c.value for c in at.caption if "are pending under these filters" in c.value)
    assert caption.startswith(f"{every:,} predictions of {MONTH} are pending")

    at = app(demo_dir, "views/drift.py", query={"site": OSAKA, "modality": "CT"})
    at = open_tab(at, "dr_tab", "Estimated vs realised")
    at.selectbox(key="dr_est").select("accuracy").run()
    table = at.dataframe[-1].value  # the accuracy rows
    assert set(table["site"]) == {OSAKA}
    assert "ChestXR-Triage" not in " ".join(table["model"])  # X-ray cases are out
    lung = table[table["finding"] == "lung_nodule"]
    assert set(lung["model"]) == {"CT-Lung 3.1"}
    # the row's counts are those of the filtered cases: CT-Lung's pending and read at Osaka
    filters = Filters(site=(OSAKA,), modality=("CT",))
    expected = metrics.estimated_vs_realised(
        con, month=MONTH, reference=metrics.ReferenceWindow.first_months(6), filters=filters
    )
    ct = expected[(expected["finding"] == "lung_nodule") & (expected["metric"] == "accuracy")]
    (shown,) = (r for _, r in lung.iterrows())
    assert (shown["n_pending"], shown["n_read"]) == (
        int(ct["n_pending"].iloc[0]),
        int(ct["n_read"].iloc[0]),
    )
    mine = _pending(con, site=(OSAKA,), modality=("CT",))
    assert 0 < mine < every and expected.attrs["n_pending"] == mine
    caption = next(c.value for c in at.caption if "are pending under these filters" in c.value)
    assert caption.startswith(f"{mine:,} predictions of {MONTH} are pending")
    assert shown["estimate"] == (
        f"{100 * ct['estimate'].iloc[0]:.1f}% ({100 * ct['low'].iloc[0]:.1f}–"
        f"{100 * ct['high'].iloc[0]:.1f}%)"
    )
    # the chart names the model and counts the filtered pending predictions only
    (spec,) = charts(at)
    acc = expected[(expected["metric"] == "accuracy") & expected["estimate"].notna()]
    plotted = int(round(acc["n_estimated"].sum()))
    count = f"{plotted:,}" if plotted == mine else f"{plotted:,} of {mine:,}"
    assert spec["layout"]["title"]["text"].startswith(
        f"Accuracy: estimate for {count} pending predictions vs realised"
    )
    labels = {y for trace in spec["data"] for y in trace["y"]}
    assert f"{OSAKA} · lung_nodule · CT-Lung 3.1" in labels
    assert not any("ChestXR" in y for y in labels)
    # the page-level caption says this tab applies the model version filter too
    top = next(c.value for c in at.caption if c.value.startswith("The alert rules run"))
    assert "Estimated vs realised, where every filter but the study date applies" in top


def test_a_study_date_filter_does_not_narrow_the_month(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/drift.py", query={"from": "2026-10-20", "modality": "CT"})
    at = open_tab(at, "dr_tab", "Estimated vs realised")
    mine = _pending(con, modality=("CT",))
    caption = next(c.value for c in at.caption if "are pending under these filters" in c.value)
    # the whole month counts, not its days from the 20th
    assert caption.startswith(f"{mine:,} predictions of {MONTH} are pending")
