"""claim_check: per-group verdicts against a published figure, and heterogeneity across groups."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from metrics import claim_check, heterogeneity
from radqa.errors import InputError
from radqa.store import memory_store, refresh_reference

T0 = datetime(2025, 3, 10, 9, 0)


def _store(groups: dict[str, tuple[int, int, int, int]]):
    """One study per case; modality -> (tp, fp, fn, tn), scores 0.9 (AI positive) / 0.1."""
    con = memory_store()
    rows = []
    for modality, (tp, fp, fn, tn) in groups.items():
        for pred, truth, k in ((1, 1, tp), (1, 0, fp), (0, 1, fn), (0, 0, tn)):
            rows += [(modality, pred, truth)] * k
    frame = pd.DataFrame(rows, columns=["modality", "pred", "truth"])
    frame["study_uid"] = [f"s{i}" for i in range(len(frame))]
    frame["score"] = np.where(frame.pred == 1, 0.9, 0.1)
    con.register("f", frame)
    con.execute("insert into studies (study_uid, modality) select study_uid, modality from f")
    con.execute(
        """
        insert into predictions
        select study_uid, 'ich', 'm', '1', score, pred = 1, 0.5, 'file', null, 0, 1 from f
        """
    )
    con.execute(
        """
        insert into reads (study_uid, finding, reader_pid, read_role, arm, label, read_datetime,
                           row_hash, batch_id)
        select study_uid, 'ich', 'r1', 'primary', '', truth, $t, 0, 2 from f
        """,
        {"t": T0},
    )
    refresh_reference(con)  # what ingest does after each reads batch
    return con


GROUPS = {
    "CT": (120, 2, 1, 377),  # accuracy 497/500 = 0.994
    "CR": (100, 30, 20, 350),  # accuracy 450/500 = 0.900
    "MR": (4, 1, 0, 5),  # 10 cases: too few
    "DX": (60, 4, 2, 134),  # accuracy 194/200 = 0.970
}


def test_verdicts_per_group():
    result = claim_check(_store(GROUPS), metric="accuracy", claimed=0.974, by=("modality",))
    g = result.set_index("modality")
    assert g["verdict"].to_dict() == {
        "CR": "below claim",
        "CT": "consistent with claim",
        "DX": "consistent with claim",
        "MR": "insufficient data",
    }
    assert g["above_claim"].to_dict() == {"CR": False, "CT": True, "DX": False, "MR": False}
    low, high = proportion_confint(450, 500, method="wilson")
    assert (g.loc["CR", "estimate"], g.loc["CR", "low"], g.loc["CR", "high"]) == pytest.approx(
        (0.9, low, high), abs=1e-15
    )
    assert np.isnan(g.loc["MR", "estimate"])
    assert set(result["metric"]) == {"accuracy"} and set(result["claimed"]) == {0.974}


def test_heterogeneity_on_the_logit_scale_over_usable_groups():
    result = claim_check(_store(GROUPS), metric="accuracy", claimed=0.974, by=("modality",))
    expected = heterogeneity(
        pd.DataFrame(
            {"label": ["CR", "CT", "DX"], "count": [450, 497, 194], "nobs": [500, 500, 200]}
        ),
        scale="logit",
    )
    het = result.attrs["heterogeneity"]
    assert het["k"] == 3  # MR (insufficient) left out
    assert het["i2"] == pytest.approx([expected.i2.value, expected.i2.low, expected.i2.high])
    assert het["random_dl"][0] == pytest.approx(expected.random_dl.value, rel=1e-12)
    json.dumps(result.attrs)  # plain numbers: Streamlit and exports can serialise them
    assert result["q"].tolist() == pytest.approx([expected.q] * 4, rel=1e-12)
    assert result["i2"].iloc[0] == pytest.approx(expected.i2.value, rel=1e-12)
    assert result["q_df"].iloc[0] == 2
    assert not result["homogeneous"].iloc[0]  # 0.90 vs 0.994: the claim does not hold across groups


def test_homogeneous_groups_consistent_with_the_claim():
    con = _store({"CT": (100, 1, 1, 98), "CR": (99, 2, 1, 98)})
    result = claim_check(con, metric="sensitivity", claimed=0.95, by=("modality",))
    assert set(result["verdict"]) == {"consistent with claim"}
    assert result["homogeneous"].all()
    assert result["q"].iloc[0] < 1.0


def test_auc_and_kappa_claims_use_the_identity_scale():
    con = _store({"CT": (100, 5, 5, 90), "CR": (80, 20, 20, 80)})
    auc = claim_check(con, metric="auc", claimed=0.9, by=("modality",))
    g = auc.set_index("modality")
    # two score values: AUC = (sensitivity + specificity) / 2
    assert g.loc["CT", "estimate"] == pytest.approx((100 / 105 + 90 / 95) / 2, abs=1e-12)
    assert g["verdict"].to_dict() == {"CT": "consistent with claim", "CR": "below claim"}
    assert auc.attrs["heterogeneity"]["scale"] == "identity"
    kappa = claim_check(con, metric="kappa", claimed=0.5, by=("modality",))
    assert kappa.attrs["heterogeneity"]["k"] == 2
    both = pd.concat([auc, kappa], ignore_index=True)  # frames for several metrics stack
    assert both["metric"].tolist() == ["auc", "auc", "kappa", "kappa"]


def test_one_usable_group_has_no_heterogeneity():
    result = claim_check(_store({"CT": (100, 1, 1, 98), "CR": (1, 1, 1, 1)}), by=("modality",))
    assert result.attrs["heterogeneity"] is None
    assert result["q"].isna().all() and result["homogeneous"].isna().all()


def test_claim_input_errors():
    con = memory_store()
    with pytest.raises(InputError, match="unknown metric 'f1'; valid metrics are: sensitivity"):
        claim_check(con, metric="f1")
    with pytest.raises(InputError, match=r"claimed is 97.4; expected a fraction such as 0.974"):
        claim_check(con, claimed=97.4)


def test_heterogeneity_across_the_rows_of_a_summary() -> None:
    """The Sites page's forest plot: Q and I² of sensitivity across groups, from their counts."""
    from metrics import group_denominators, heterogeneity_across, summarize

    summary = summarize(_store(GROUPS), by=("modality",), min_n=1)
    summary = summary.sort_values("modality").reset_index(drop=True)  # CR, CT, DX, MR
    assert group_denominators(summary, "sensitivity").tolist() == [120, 121, 62, 4]
    assert group_denominators(summary, "auc").tolist() == summary["n_labelled"].tolist()
    het = heterogeneity_across(summary, ["modality"], "sensitivity")
    expected = heterogeneity(
        pd.DataFrame(
            {
                "label": ["CR", "CT", "DX", "MR"],
                "count": [100, 120, 60, 4],
                "nobs": [120, 121, 62, 4],
            }  # fmt: skip
        ),
        scale="logit",
    )
    assert het is not None
    assert het.q == pytest.approx(expected.q, rel=1e-12) and het.q > 10
    assert het.i2.value == pytest.approx(expected.i2.value, rel=1e-12)
    assert heterogeneity_across(summary.head(1), ["modality"], "sensitivity") is None


def test_each_metric_names_its_own_interval_method():
    """Agreement was named by the proportions' method (Wilson) while its interval is percent
    agreement's (Gwet SE, t interval)."""
    methods = {
        m: claim_check(_store(GROUPS), metric=m, claimed=0.9, by=("modality",)).attrs["methods"][
            "estimate"
        ]
        for m in ("accuracy", "agreement")
    }
    assert methods["accuracy"].startswith("Wilson")
    assert methods["agreement"].startswith("percent agreement AI vs reference, Gwet (2014) SE")
