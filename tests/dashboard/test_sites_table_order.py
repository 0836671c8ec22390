"""Sites & scanners › Table: the metric chosen above the tabs comes right after the site and
scanner columns, with its CI and the counts it rests on (a reviewer's finding: at 1400 px only
the counts were in view, the metric and its CI past the table's right edge), and the two group
columns stay pinned while the table scrolls."""

from __future__ import annotations

import json

from .conftest import open_tab


def test_the_chosen_metric_leads_the_table(app, demo_dir) -> None:  # noqa: ANN001
    at = app(demo_dir, "views/sites.py")
    at.selectbox(key="ss_metric").set_value("specificity").run()
    table = open_tab(at, "ss_tab", "Table").dataframe[0]
    columns = list(table.value.columns)
    assert columns[:8] == [
        "site", "scanner_model", "specificity", "specificity_low", "specificity_high", "n",
        "pending", "n_labelled",
    ]  # fmt: skip
    # every other metric follows with its interval, none lost; no standard errors shown
    assert columns[8:11] == ["sensitivity", "sensitivity_low", "sensitivity_high"]
    assert {"auc", "auc_low", "kappa_high", "tp", "tn"} <= set(columns)
    assert not [c for c in columns if c.endswith("_se")]
    config = json.loads(table.proto.columns)
    assert config["site"]["pinned"] is True and config["scanner_model"]["pinned"] is True
    assert config["site"]["label"] == "Site"
    assert config["specificity_low"]["label"] == "Specificity, 95% CI low"
