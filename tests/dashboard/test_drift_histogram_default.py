"""Drift › Score distribution started on the alphabetically first group (a reviewer: 14 scores
over 50 bins) and gave no PSI or KS beside the histogram. It starts on the finding, site and
scanner with the most scores this month, and its caption gives the score rules' verdicts."""

from __future__ import annotations

import metrics
from metrics._periods import ReferenceWindow

from .conftest import open_tab


def test_histogram_starts_on_the_largest_group_with_the_rules_verdicts(app, demo_dir, con) -> None:  # noqa: ANN001
    at = open_tab(app(demo_dir, "views/drift.py"), "dr_tab", "Score distribution")
    assert not at.exception
    month = at.selectbox(key="dr_month").value
    result = metrics.monitor(con, month=month, reference=ReferenceWindow.first_months(6))
    hist = result.histograms
    n = hist.groupby(["finding", "site", "scanner_model"])["n_month"].first()  # one per group
    finding = n.groupby("finding").sum().idxmax()
    site = n.loc[finding].groupby("site").sum().idxmax()
    scanner = n.loc[(finding, site)].idxmax()
    chosen = [at.selectbox(key=f"dr_hist_{c}").value for c in ("finding", "site", "scanner_model")]
    assert chosen == [finding, site, scanner]
    res = result.results
    rows = res[
        (res["metric"] == "score") & (res["month"] == month) & (res["site"] == site)
        & (res["scanner_model"] == scanner) & (res["finding"] == finding)
    ]  # fmt: skip
    assert len(rows) == 2  # PSI and KS
    caption = next(c.value for c in at.caption if "against a threshold of" in c.value)
    for r in rows.to_dict("records"):
        assert (
            f"{r['rule']}: {r['value']:.3f} against a threshold of {r['threshold']:g} "
            f"(n = {int(r['n']):,}; {r['status']})"
        ) in caption
