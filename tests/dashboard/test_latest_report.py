"""The Overview's banner shows the latest monthly report whose month has data (a QA tester's
fault 9): a report written for a month after the data (2027-03 for 2026-03) invents "volume fell
by 100%, 18 months running" alerts, and its name sorts last."""

from __future__ import annotations

import json
from pathlib import Path

from dashboard import _alerts
from radqa import store


def _write(folder: Path, month: str, rule: str, last_study: str | None) -> None:
    doc: dict[str, object] = {
        "snapshot_id": "s1",
        "alerts": [{"rule": rule, "group": {"site": "S1"}, "first_period": month, "periods": 1}],
        "readings": [f"{rule} in {month}"],
    }
    if last_study is not None:
        doc["data_received"] = {"month": month, "last_study": last_study}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"drift-report-{month}.json").write_text(json.dumps(doc))


def test_a_report_for_a_month_after_its_data_is_passed_over(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    _write(reports, "2026-09", "older", "2026-10-31")
    _write(reports, "2026-10", "real", "2026-10-31")
    _write(reports, "2027-03", "typo", "2026-10-31")  # its own data ended in 2026-10
    assert _alerts.latest_report_alerts(tmp_path).alerts["rule"].tolist() == ["real"]
    assert _alerts.latest_report_alerts(tmp_path, "2026-10").month == "2026-10"
    # a report from before data_received was kept: the snapshot's last month decides
    _write(reports, "2027-04", "old format", None)
    assert _alerts.latest_report_alerts(tmp_path).month == "2027-04"
    assert _alerts.latest_report_alerts(tmp_path, "2026-10").month == "2026-10"
    # the snapshot now ends in 2026-09: a report of 2026-10 was of a later month than its data
    assert _alerts.latest_report_alerts(tmp_path, "2026-09").month == "2026-09"
    assert _alerts.latest_report_alerts(tmp_path, "2026-08") is None


def test_the_overview_shows_the_latest_report_with_data(app, demo_copy) -> None:  # noqa: ANN001
    con = store.open_snapshot(demo_copy)
    last = con.execute("select max(study_datetime)::date from studies").fetchone()[0]
    con.close()
    month = f"{last:%Y-%m}"
    reports = demo_copy / "reports"
    _write(reports, month, "real rule", str(last))
    _write(reports, "2099-03", "typo rule", str(last))
    at = app(demo_copy)
    assert not at.exception
    assert at.error[0].value.startswith(
        f"1 open drift alert(s) in the monthly report {month} (snapshot s1):"
    )
    shown = "\n".join(m.value for m in at.markdown)
    assert f"- **real rule**: real rule in {month}" in shown
    assert "typo rule" not in shown
