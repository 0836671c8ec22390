"""Reports & exports when the data dir cannot be written: one error line naming the path and the
operating system's reason, and the rest of the page still drawn (qa9/crash fault 7)."""

from __future__ import annotations

from pathlib import Path

# the page's headers, then the sidebar's
HEADERS = ["Monthly drift report", "Trial statistics export", "Audit log", "Filters"]


def test_unwritable_report_and_export_folders_give_one_error_each(app, demo_copy: Path) -> None:
    # a file where each output folder should be: mkdir fails with a real OSError (EEXIST),
    # as it does with EROFS on a read-only data dir (which root, running the tests, ignores)
    (demo_copy / "reports").write_text("not a folder")
    (demo_copy / "exports").write_text("not a folder")
    at = app(demo_copy, "views/reports.py")
    month = at.selectbox(key="rp_month").value

    at.button(key="rp_generate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [
        f"The report for {month} could not be written: {demo_copy / 'reports'}: File exists"
    ]
    # the rest of the page: the trial export's button and the audit log
    assert [h.value for h in at.header] == HEADERS
    assert at.button(key="tx_generate").label == "Export trial statistics"

    at.button(key="tx_generate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [
        f"The trial export could not be written: {demo_copy / 'exports'}: File exists"
    ]
    assert [h.value for h in at.header] == HEADERS
    assert not at.get("download_button")
    assert [c.value for c in at.caption][-1] == "No export or download has been logged yet."
