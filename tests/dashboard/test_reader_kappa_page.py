"""Agreement › Reader vs reader: a kappa that is not estimable says why, percent agreement keeps
its interval, and the forest plot says which groups it leaves out and counts only what it plots.

The reviewer saw kappa "None" for Busan (19 items) and Osaka (58 items, 100% agreement), a forest
plot titled "n = 144" beside 221 double-read items that named neither, and, with Site = Osaka, the
"None" row alone.
"""

from __future__ import annotations

import json

import pandas as pd

import metrics
from dashboard import _charts
from metrics import Filters
from tests.dashboard.conftest import charts, open_tab


def readers_tab(app, demo_dir, pair: str | None = None, query=None):  # noqa: ANN001, ANN201
    at = app(demo_dir, "views/agreement.py", query=query)
    if pair is not None:
        at.selectbox(key="ag_pair").set_value(pair).run()
    return open_tab(at, "ag_tab", "Reader vs reader")


def expected(con, finding: str, **where) -> tuple[pd.DataFrame, pd.Series]:  # noqa: ANN001, ANN003
    filters = Filters(finding=(finding,), **where)
    by_site = metrics.reader_agreement(con, by=("site",), filters=filters)
    return by_site, metrics.reader_agreement(con, by=(), filters=filters).iloc[0]


def without_prefix(reason: str) -> str:
    return reason.removeprefix("not estimable: ")


def test_a_kappa_not_estimable_says_why_and_the_plot_names_the_sites_it_leaves_out(
    app,
    demo_dir,
    con,  # noqa: ANN001
) -> None:
    at = readers_tab(app, demo_dir, "ChestXR-Triage · pneumothorax")
    sites, _ = expected(con, "pneumothorax")
    missing = sites[sites["kappa"].isna()]
    plotted = sites[sites["kappa"].notna()]
    assert len(missing) >= 1 and len(plotted) >= 2  # the demo has both kinds
    # the forest plot: the estimable sites only, its n theirs, out of every double-read item
    [forest] = charts(at)
    assert forest["data"][0]["y"] == list(plotted["site"])[::-1]
    assert forest["layout"]["title"]["text"] == (
        f"Reader vs reader kappa by site, {len(plotted)} of {len(sites)} plotted "
        f"(n = {int(plotted['n_items'].sum()):,} of {int(sites['n_items'].sum()):,} "
        "double-read items)"
    )
    # ... and a caption under it that names each site left out and why
    caption = next(c.value for c in at.caption if c.value.startswith("Not plotted"))
    assert (
        caption
        == "Not plotted, kappa not estimable: "
        + "; ".join(
            f"{r.site} ({r.n_items:,} double-read items): {without_prefix(r.kappa_reason)}"
            for r in missing.itertuples()
        )
        + "."
    )
    assert "the readers agreed on all" in caption
    # the table: "not estimable" and the reason in words, percent agreement with its interval
    table = at.dataframe[0].value.set_index("site")
    for r in sites.itertuples():
        row = table.loc[r.site]
        if pd.isna(r.kappa):
            assert (row["kappa"], row["kappa_ci"]) == ("not estimable", "–")
            # the column is "Why kappa is not estimable": the reason as a sentence
            reason = without_prefix(r.kappa_reason)
            assert row["kappa_reason"] == reason[0].upper() + reason[1:] + "."
        else:
            assert row["kappa"] == _charts.fmt(r.kappa, "kappa")
            ci = f"{_charts.fmt(r.kappa_low, 'kappa')} – {_charts.fmt(r.kappa_high, 'kappa')}"
            assert row["kappa_ci"] == ci and row["kappa_reason"] == ""
        assert row["agreement"] == round(r.agreement, 3)  # one decimal in %
        assert row["agreement_ci"] == (
            f"{_charts.fmt(r.agreement_low, 'accuracy')} – "
            f"{_charts.fmt(r.agreement_high, 'accuracy')}"
        )
    config = json.loads(at.dataframe[0].proto.columns)
    labels = {k: v.get("label") for k, v in config.items()}
    assert labels["kappa_reason"] == "Why kappa is not estimable"
    # "95% CI" under both estimates; which estimate's, in the header's help
    assert (labels["agreement_ci"], config["agreement_ci"]["help"]) == (
        "95% CI", "Percent agreement, 95% CI"
    )  # fmt: skip


def test_one_site_whose_kappa_is_not_estimable_still_shows_agreement_with_its_ci(
    app,
    demo_dir,
    con,  # noqa: ANN001
) -> None:
    # the reviewer's Site = Osaka: the readers agreed on every item
    site = "Osaka University Hospital"
    at = readers_tab(app, demo_dir, "MR-Brain · acute_infarct", query={"site": site})
    sites, every = expected(con, "acute_infarct", site=(site,))
    assert list(sites["site"]) == [site] and every["agreement"] == 1.0
    n = int(every["n_items"])
    values = {m.label: m.value for m in at.metric}
    assert values[f"Cohen's kappa, all {n} items"] == "not estimable"
    assert values[f"Percent agreement, all {n} items"] == "100.0%"
    captions = [c.value for c in at.caption]
    assert (
        f"The readers agreed on all {n} items, so kappa is 1 with a variance of 0 and no "
        "confidence interval can be given."
    ) in captions
    wilson = metrics.proportion_ci(n, n, method="wilson")  # 100%: Wilson (1927)
    assert every["agreement_low"] == wilson.low
    assert _charts.fmt_ci(wilson.low, wilson.high, "accuracy") in captions
    assert not at.get("plotly_chart")  # nothing to plot: the kappa tile says why


def test_every_site_not_estimable_draws_no_plot_and_names_them_all(
    app,
    demo_dir,
    con,  # noqa: ANN001
) -> None:
    at = readers_tab(app, demo_dir)  # the first pair: CT-ICH · intracranial_haemorrhage
    finding = at.selectbox(key="ag_pair").value.split(" · ")[1]
    sites, every = expected(con, finding)
    table = at.dataframe[0].value
    assert list(table["site"]) == list(sites["site"])
    assert list(table["kappa"]) == [
        "not estimable" if pd.isna(k) else _charts.fmt(k, "kappa") for k in sites["kappa"]
    ]
    values = {m.label: m.value for m in at.metric}
    n = int(every["n_items"])
    assert values["Double-read items"] == f"{int(sites['n_items'].sum()):,}"
    assert values[f"Percent agreement, all {n} items"] == _charts.fmt(
        every["agreement"], "accuracy"
    )
    assert values[f"Cohen's kappa, all {n} items"] == (
        _charts.fmt(every["kappa"], "kappa") if pd.notna(every["kappa"]) else "not estimable"
    )
    if sites["kappa"].isna().all():
        assert not at.get("plotly_chart")
        caption = next(c.value for c in at.caption if c.value.startswith("No forest plot"))
        assert caption.startswith("No forest plot, kappa not estimable: ")
        assert all(f"{s} (" in caption for s in sites["site"])
