"""Shares in the dashboard's tables to one decimal, as the tiles and CI texts show them (a
reviewer at 1280 x 800: Streamlit's "percent" format without a step showed up to two decimals,
trailing zeros dropped: "87%" above "85.84%", a claim of "93%" beside "89.26%" and a CI low of
"89.8%"). A step of 0.001 fixes one decimal; the grid cuts the digits past the step, so the
values shown are rounded to it first (0.8178 would show as "81.7%")."""

from __future__ import annotations

import json

import pandas as pd

from dashboard._columns import PERCENT_STEP, percent, shares_rounded

from .conftest import open_tab


def percent_columns(element) -> dict[str, dict]:  # noqa: ANN001
    config = json.loads(element.proto.columns or "{}")
    return {
        col: c["type_config"]
        for col, c in config.items()
        if c.get("type_config", {}).get("format") == "percent"
    }


def assert_one_decimal(element) -> None:  # noqa: ANN001
    """Every share column has the step, and its values are on it (the grid cuts the rest)."""
    shares = percent_columns(element)
    assert shares and {c["step"] for c in shares.values()} == {PERCENT_STEP}, shares
    for col in shares:
        values = element.value[col].dropna()
        assert ((values * 1000).round(9) % 1 == 0).all(), (col, list(values))


def test_claims_table_shares_to_one_decimal(app, demo_dir) -> None:  # noqa: ANN001
    claims = app(demo_dir).dataframe[-1]
    assert set(percent_columns(claims)) == {"claimed", "estimate", "low", "high"}
    assert_one_decimal(claims)


def test_agreement_by_group_to_one_decimal(app, demo_dir) -> None:  # noqa: ANN001
    table = open_tab(app(demo_dir, "views/agreement.py"), "ag_tab", "By group").dataframe[0]
    assert set(percent_columns(table)) == {"agreement"}
    assert_one_decimal(table)
    # each value is its CI text's neighbour to 0.1 point: within the CI shown beside it
    for value, ci in zip(table.value["agreement"], table.value["agreement_ci"], strict=True):
        low, high = (float(x.strip(" %")) for x in ci.split("–"))
        assert low - 0.05 <= 100 * value <= high + 0.05, (value, ci)


def test_sites_table_to_one_decimal(app, demo_dir) -> None:  # noqa: ANN001
    table = open_tab(app(demo_dir, "views/sites.py"), "ss_tab", "Table").dataframe[0]
    assert {"sensitivity", "sensitivity_low", "sensitivity_high"} <= set(percent_columns(table))
    assert_one_decimal(table)


def test_shares_rounded_rounds_only_the_percent_columns() -> None:
    config = {"share": percent("Share"), "kappa": {"type_config": {"format": "%.3f"}}}
    table = pd.DataFrame({"share": [0.81784, 0.2949, None], "kappa": [0.81784, 0.5, 0.1]})
    out = shares_rounded(table, config)
    assert out["share"].tolist()[:2] == [0.818, 0.295] and pd.isna(out["share"][2])
    assert out["kappa"].tolist() == table["kappa"].tolist()
    assert table["share"][0] == 0.81784  # the caller's frame (a CSV download's) untouched
