"""Labels of the Overview's claims table and the Drift page's tables: every interval's method is
named, every column explained, and no cell shows a bare None or an unexplained status."""

from __future__ import annotations

import json

import metrics
from metrics import Filters

CLAIMS = '[claims."ChestXR-Triage"]\naccuracy = 0.974\nagreement = 0.93\n'


def column_labels(element) -> dict[str, str]:  # noqa: ANN001
    """The column config of an ``st.dataframe`` as AppTest saw it: column -> its label."""
    config = json.loads(element.proto.columns)
    return {name: c.get("label", name) for name, c in config.items()}


def test_claims_table_names_the_interval_method_of_every_row(app, demo_copy, con) -> None:  # noqa: ANN001
    """Agreement rows have Gwet's interval, accuracy rows Wilson's: each row says which."""
    (demo_copy / "radqa.toml").write_text(CLAIMS)
    at = app(demo_copy)
    assert not at.exception
    table = at.dataframe[-1].value
    methods = summarize_methods(con)
    assert set(table["metric"]) == {"accuracy", "agreement"}
    for metric, method in zip(table["metric"], table["ci_method"], strict=True):
        assert method == methods["agreement" if metric == "agreement" else "proportions"]
    assert methods["agreement"] != methods["proportions"]
    # the footnote under the table names both
    caption = next(c.value for c in at.caption if c.value.startswith("95% CI: accuracy"))
    assert caption == (
        f"95% CI: accuracy: {methods['proportions']}; agreement: {methods['agreement']}."
    )
    # and the agreement rows' intervals are those of metrics (not recomputed in the page)
    expected = metrics.claim_check(
        con,
        metric="agreement",
        claimed=0.93,
        by=("finding",),
        filters=Filters(model_name=("ChestXR-Triage",)),
    )
    shown = table[table["metric"] == "agreement"]
    assert list(shown["low"].round(12)) == list(expected["low"].round(12))


def summarize_methods(con) -> dict[str, str]:  # noqa: ANN001
    return metrics.summarize(con, by=("finding",)).attrs["methods"]


def test_claims_table_headers_are_short_and_explained(app, demo_dir) -> None:  # noqa: ANN001
    at = app(demo_dir)
    labels = column_labels(at.dataframe[-1])
    assert labels["above_claim"] == "CI above claim"
    assert labels["ci_method"] == "CI method"
    config = json.loads(at.dataframe[-1].proto.columns)
    assert config["above_claim"]["help"] == "The 95% CI lies wholly above the claimed figure"
    assert config["above_claim"]["width"] == "medium"
