"""reader_agreement says in words why a site's reader-vs-reader kappa is NaN (``kappa_reason``).

The reviewer saw "None" for Busan (19 items) and Osaka (58 items, 100% agreement) on the
Agreement page: the two readers agreed on every item, so Gwet's variance of a kappa of 1 is 0
and no interval can be given. Percent agreement keeps its Wilson interval.
"""

from __future__ import annotations

import math
from datetime import datetime

import pandas as pd
import pytest

from metrics import cohen_kappa_table, reader_agreement
from radqa.store import memory_store, refresh_reference

T0 = datetime(2025, 3, 10, 9, 0)

#: per site: (first reader's label, second reader's label) for each item
SITES = {
    "Agree": [(1, 1)] * 4 + [(0, 0)] * 15,  # agree on all 19 items, both categories used
    "AllNeg": [(0, 0)] * 6,  # both readers call every item negative
    "OneSided": [(0, 0)] * 8 + [(0, 1)] * 2,  # the first reader never calls positive
    "Mixed": [(1, 1)] * 6 + [(0, 0)] * 20 + [(1, 0)] * 2 + [(0, 1)] * 2,
}


def _store():  # noqa: ANN202
    con = memory_store()
    studies, reads = [], []
    for site, pairs in SITES.items():
        for i, (a, b) in enumerate(pairs):
            uid = f"{site}.{i}"
            studies.append((uid, site, T0))
            reads.append((uid, "ich", "ra", "primary", "", a, T0, 0, 2))
            reads.append((uid, "ich", "rb", "second", "", b, T0, 0, 2))
    for table, rows, cols in (
        ("studies", studies, ["study_uid", "site", "study_datetime"]),
        (
            "reads",
            reads,
            [
                "study_uid",
                "finding",
                "reader_pid",
                "read_role",
                "arm",
                "label",
                "read_datetime",
                "row_hash",
                "batch_id",
            ],  # fmt: skip
        ),
    ):
        frame = pd.DataFrame(rows, columns=cols)  # noqa: F841 (read by DuckDB below)
        con.execute(f"insert into {table} ({', '.join(cols)}) select * from frame")
    refresh_reference(con)
    return con


def test_kappa_reason_says_why_each_site_has_no_kappa() -> None:
    out = reader_agreement(_store(), by=("site",)).set_index("site")
    assert out["n_items"].to_dict() == {"Agree": 19, "AllNeg": 6, "Mixed": 30, "OneSided": 10}
    assert out.loc["Agree", "kappa_reason"] == (
        "not estimable: the readers agreed on all 19 items, so kappa is 1 with a variance of 0 "
        "and no confidence interval can be given"
    )
    assert out.loc["AllNeg", "kappa_reason"] == (
        "not estimable: both readers put all 6 items in one category, so chance agreement is 1 "
        "and kappa (observed - chance) / (1 - chance) is 0 / 0"
    )
    assert out.loc["OneSided", "kappa_reason"] == (
        "not estimable: the first reader used a single category for all 10 items, so kappa is 0 "
        "by construction"
    )
    for site in ("Agree", "AllNeg", "OneSided"):
        assert math.isnan(out.loc[site, "kappa"]) and math.isnan(out.loc[site, "kappa_low"])
    # an estimable kappa has a value, an interval and no reason
    mixed = cohen_kappa_table([[20, 2], [2, 6]])
    assert out.loc["Mixed", "kappa"] == pytest.approx(mixed.value, abs=1e-12)
    assert out.loc["Mixed", "kappa"] == pytest.approx(1 - (4 / 30) / (1 - (22 * 22 + 8 * 8) / 900))
    assert pd.isna(out.loc["Mixed", "kappa_reason"])


def test_percent_agreement_keeps_its_interval_where_kappa_has_none() -> None:
    out = reader_agreement(_store(), by=("site",)).set_index("site")
    # 19 of 19: Wilson (1927) 95% interval 83.2% to 100%, as the page shows for Busan
    agree = out.loc["Agree"]
    assert (agree["agreement"], round(agree["agreement_low"], 4)) == (1.0, 0.8318)
    assert agree["agreement_high"] == pytest.approx(1.0)
    one = out.loc["OneSided"]
    assert one["agreement"] == pytest.approx(0.8)
    assert one["agreement_low"] < 0.8 < one["agreement_high"]
