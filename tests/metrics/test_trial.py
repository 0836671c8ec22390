"""Trial statistics helpers: design inference, GEE from counts, paired tables, zero cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from metrics import infer_design, mcnemar
from metrics._trial import estimates_long
from metrics._trial_compare import gee_arm_effect, paired_comparisons
from radqa.errors import InputError


def facts(**over):
    base = dict(
        arms=["A", "B"],
        n_arms=2,
        n_readers=3,
        n_cases=10,
        n_cells=60,
        n_reads=60,
        n_rated=60,
        max_reads_per_cell=1,
        cases_in_all_arms=10,
        reader_cases_in_all_arms=30,
    )
    return {**base, **over}


def test_auto_design_prefers_mrmc_then_paired_then_parallel():
    assert infer_design(facts()).design == "mrmc"
    one_reader = dict(n_readers=1, n_cells=20, n_reads=20, reader_cases_in_all_arms=10)
    assert infer_design(facts(**one_reader, n_rated=19)).design == "paired"
    # several readers on the same cases, not every read rated: McNemar would treat the reads of
    # one case as independent, so it is refused rather than chosen (a reviewer's finding)
    with pytest.raises(InputError, match="needs one pair per case; found 30 reader x case pairs"):
        infer_design(facts(n_rated=59))
    assert infer_design(facts(n_rated=0, cases_in_all_arms=4, n_cells=40)).design == "parallel"


def test_requested_designs_the_data_cannot_support():
    with pytest.raises(
        InputError,
        match=r"^a trial export needs analysed reads in at least two arms; found 1 \(A\)",
    ):
        infer_design(facts(arms=["A"], n_arms=1))
    with pytest.raises(InputError, match=r"mrmc' needs at least 2 readers \(found 1\)"):
        infer_design(facts(n_readers=1, n_cells=20, n_reads=20, n_rated=20), "mrmc")
    with pytest.raises(InputError, match=r"40 of 60 reader x case x arm cells"):
        infer_design(facts(n_cells=40), "mrmc")
    with pytest.raises(InputError, match="found none of 10 analysed cases"):
        infer_design(facts(cases_in_all_arms=0), "paired")
    with pytest.raises(InputError, match="unknown design 'crossover'"):
        infer_design(facts(), "crossover")


def test_gee_from_counts_equals_a_fit_on_the_reads():
    rng = np.random.default_rng(3)
    rows = pd.DataFrame({"cluster": rng.integers(0, 6, 400), "arm": rng.choice(["a", "b"], 400)})
    p = np.where(rows["arm"] == "a", 0.7, 0.5) + 0.04 * rows["cluster"]
    rows["event"] = (rng.random(400) < p).astype(int)
    counts = (
        rows.groupby(["cluster", "arm", "event"], as_index=False)
        .size()
        .rename(columns={"size": "n"})
    )
    got = gee_arm_effect(counts, "a", "b", alpha=0.05)
    rows = rows.sort_values("cluster", kind="stable")
    fit = sm.GEE(
        rows["event"].to_numpy(float),
        sm.add_constant((rows["arm"] == "a").to_numpy(float)),
        groups=rows["cluster"].to_numpy(),
        family=sm.families.Binomial(),
        cov_struct=sm.cov_struct.Exchangeable(),
    ).fit()
    assert got["estimate"] == pytest.approx(fit.params[1], rel=1e-6)
    assert got["se"] == pytest.approx(fit.bse[1], rel=1e-6)
    assert got["p_value"] == pytest.approx(fit.pvalues[1], rel=1e-5)
    assert (got["clusters"], got["n_reads"]) == (6, 400)
    assert got["ci_low"] < got["estimate"] < got["ci_high"]


def test_gee_with_one_cluster_says_why_it_is_empty():
    counts = pd.DataFrame(
        {"cluster": ["s", "s", "s"], "arm": ["a", "b", "b"], "event": [1, 0, 1], "n": [5, 3, 2]}
    )
    got = gee_arm_effect(counts, "a", "b", alpha=0.05)
    assert np.isnan(got["estimate"]) and got["note"] == "1 cluster(s): GEE needs at least 2"


def test_paired_table_and_mcnemar():
    frame = pd.DataFrame(
        {
            "ref_label": [1, 1, 1, 1, 0, 0],
            "label_first": [1, 1, 0, 0, 0, 1],
            "label_second": [1, 0, 1, 1, 0, 0],
            "score_first": [0.9, 0.8, 0.3, 0.2, 0.1, 0.7],
            "score_second": [0.9, 0.4, 0.6, 0.7, 0.2, 0.3],
        }
    )
    out = paired_comparisons({("A", "B"): frame}, ["sensitivity"], alpha=0.05, use_ratings=True)
    sens = out.iloc[0]
    assert (sens.both, sens.a_only, sens.b_only, sens.neither) == (1, 1, 2, 0)
    expected = mcnemar([[1, 1], [2, 0]])
    assert sens.p_value == pytest.approx(expected.p_value)
    assert sens.estimate == pytest.approx(-0.25)  # 2/4 - 3/4
    assert out.iloc[1]["statistic"] == "AUC difference (A - B)"


def test_a_group_with_zero_cells_keeps_its_row():
    by_score = pd.DataFrame(
        {
            "arm": ["A", "A"],
            "level": ["x", "x"],
            "score": [0.0, 1.0],
            "pos": [0, 0],
            "neg": [4, 1],
            "tp": [0, 0],
            "fp": [0, 1],
            "fn": [0, 0],
            "tn": [4, 0],
        }
    )
    two, est = estimates_long(
        by_score, ["arm", "level"], subject="readers", dimension="site", alpha=0.05, score="label"
    )
    assert two[["tp", "fp", "fn", "tn"]].iloc[0].tolist() == [0, 1, 0, 4]
    got = est.set_index("measure")
    assert np.isnan(got.loc["sensitivity", "estimate"])
    assert "no reference positives" in got.loc["sensitivity", "note"]
    assert got.loc["specificity", "estimate"] == pytest.approx(0.8)
    assert np.isnan(got.loc["auc", "estimate"]) and "AUC undefined" in got.loc["auc", "note"]
