"""Data health › Label completeness as a committee member reads it (a reviewer at 1280 x 800:
the table was the raw frame, headed "site, n, labelled, pending, completeness", with the share
as "0.9804" beside a chart in % and counts without separators)."""

from __future__ import annotations

import json

import metrics

from .conftest import open_tab


def test_completeness_table_in_words_and_percent(app, demo_dir, con) -> None:  # noqa: ANN001
    at = open_tab(app(demo_dir, "views/health.py"), "dh_tab", "Label completeness")
    table = at.dataframe[0]
    config = json.loads(table.proto.columns)
    shown = table.value
    assert list(shown.columns) == ["site", "completeness_pct", "labelled", "pending", "n"]
    assert [config[c]["label"] for c in shown.columns] == [
        "Site", "With a reference read", "Read", "Awaiting a reference read", "Predictions",
    ]  # fmt: skip
    # the share in % to one decimal, as the chart above draws it; counts with separators
    assert config["completeness_pct"]["type_config"]["format"] == "%.1f%%"
    assert {config[c]["type_config"]["format"] for c in ("labelled", "pending", "n")} == {
        "localized"
    }
    # the numbers are metrics.label_completeness's, the share times 100
    expected = metrics.label_completeness(con, by=("site",)).set_index("site")
    got = shown.set_index("site")
    assert (got["n"] == expected["n"]).all() and (got["pending"] == expected["pending"]).all()
    assert ((got["completeness_pct"] - 100 * expected["completeness"]).abs() < 1e-9).all()
    assert got["completeness_pct"].between(90, 100).all()
