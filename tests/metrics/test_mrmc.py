"""Obuchowski-Rockette MRMC: the Iowa OR-DBM MRMC 2.51 output for Van Dyke and Franken."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metrics import mrmc, roc_auc
from radqa.errors import InputError, InsufficientDataError


@pytest.fixture(scope="module")
def vandyke(reference_dir):
    return pd.read_csv(reference_dir / "RJafroc_dataset02_VanDyke.csv")


@pytest.fixture(scope="module")
def franken(reference_dir):
    return pd.read_csv(reference_dir / "RJafroc_dataset03_Franken.csv")


@pytest.fixture(scope="module")
def vd(vandyke):
    return mrmc(vandyke)


def test_vandyke_aucs_and_covariances_match_iowa(vd):
    # RJafroc tests/testthat/goodValues361/Iowa/VanDyke.txt (printed to 8 decimals)
    assert vd.treatment_aucs[0].value == pytest.approx(0.89703704, abs=1e-8)
    assert vd.treatment_aucs[1].value == pytest.approx(0.94083736, abs=1e-8)
    assert vd.difference.value == pytest.approx(-0.04380032, abs=1e-8)
    vc = vd.variance_components
    assert vc.var_error == pytest.approx(0.00080229, abs=1e-8)
    assert vc.cov1 == pytest.approx(0.00034661, abs=1e-8)
    assert vc.cov2 == pytest.approx(0.00034407, abs=1e-8)
    assert vc.cov3 == pytest.approx(0.00023903, abs=1e-8)
    assert vc.var_r == pytest.approx(0.00153500, abs=1e-8)
    assert vc.var_tr == pytest.approx(0.00020040, abs=1e-8)
    assert vd.mean_squares["T"] == pytest.approx(0.00479617, abs=1e-8)
    assert vd.mean_squares["TR"] == pytest.approx(0.00055103, abs=1e-8)
    assert vd.reader_aucs.loc[4, 1] == pytest.approx(0.92995169, abs=1e-8)
    assert vd.n_cases == (69, 45)


def test_vandyke_random_readers_random_cases_matches_iowa(vd):
    assert round(vd.f_statistic, 2) == 4.46
    assert vd.df_numerator == 1
    assert round(vd.df_denominator, 2) == 15.26
    assert round(vd.p_value, 4) == 0.0517
    diff = vd.difference
    assert round(diff.se, 5) == 0.02075
    assert (round(diff.low, 5), round(diff.high, 5)) == (-0.08796, 0.00036)
    # c) single-treatment intervals
    t0, t1 = vd.treatment_aucs[0], vd.treatment_aucs[1]
    assert (round(t0.se, 8), round(t0.low, 8), round(t0.high, 8)) == (
        0.03317360,
        0.82522360,
        0.96885048,
    )
    assert (round(t1.se, 8), round(t1.low, 8), round(t1.high, 8)) == (
        0.02156637,
        0.89413783,
        0.98753689,
    )


def test_vandyke_fixed_readers_matches_iowa(vd):
    fr = vd.fixed_readers
    assert round(fr.statistic, 5) == 5.47595
    assert fr.df == (1.0,)
    assert round(fr.p_value, 4) == 0.0193
    diff = fr.differences[(0, 1)]
    assert (round(diff.se, 5), round(diff.low, 5), round(diff.high, 5)) == (
        0.01872,
        -0.08049,
        -0.00711,
    )
    t0 = fr.treatment_aucs[0]
    assert (round(t0.se, 8), round(t0.low, 8), round(t0.high, 8)) == (
        0.02428971,
        0.84943008,
        0.94464399,
    )


def test_vandyke_fixed_cases_matches_iowa(vd):
    fc = vd.fixed_cases
    assert round(fc.statistic, 2) == 8.70
    assert fc.df == (1.0, 4.0)
    assert round(fc.p_value, 4) == 0.0420
    diff = fc.differences[(0, 1)]
    assert (round(diff.se, 5), round(diff.low, 5), round(diff.high, 5)) == (
        0.01485,
        -0.08502,
        -0.00258,
    )
    t1 = fc.treatment_aucs[1]
    assert (round(t1.low, 8), round(t1.high, 8)) == (0.89598936, 0.98568536)


def test_franken_matches_iowa(franken):
    # RJafroc tests/testthat/goodValues361/Iowa/Franken1.txt: the same study (2 treatments,
    # 4 readers, 100 cases of which 67 abnormal), OR-DBM MRMC 2.51 output
    res = mrmc(franken)
    assert res.reader_aucs.loc["READER_2", "TREAT1"] == pytest.approx(0.86499322, abs=1e-8)
    vc = res.variance_components
    assert (vc.var_error, vc.cov1, vc.cov2, vc.cov3) == pytest.approx(
        (0.00152578, 0.00079168, 0.00048364, 0.00051251), abs=1e-8
    )
    assert vc.var_tr == pytest.approx(-0.00071276, abs=1e-8)  # ANOVA estimates can be negative
    assert (round(res.f_statistic, 2), round(res.p_value, 4)) == (4.69, 0.1188)
    assert res.df_denominator == pytest.approx(3.0)  # max(Cov2 - Cov3, 0) = 0
    assert round(res.fixed_readers.statistic, 5) == 0.32101
    t2 = res.treatment_aucs["TREAT2"]
    assert (round(t2.low, 8), round(t2.high, 8)) == (0.79048429, 0.88330585)


def test_franken_properties(franken):
    res = mrmc(franken)
    aucs = res.reader_aucs.to_numpy()
    assert ((aucs >= 0) & (aucs <= 1)).all()
    for (trt, rdr), grp in franken.groupby(["treatment", "reader"]):
        assert res.reader_aucs.loc[rdr, trt] == pytest.approx(
            roc_auc(grp["truth"], grp["rating"]).value, abs=1e-14
        )
    for analysis in (res.random, res.fixed_readers, res.fixed_cases):
        for est in [*analysis.differences.values(), *analysis.treatment_aucs.values()]:
            assert est.low <= est.value <= est.high


def test_renamed_columns_and_row_order_give_the_same_result(vandyke, vd):
    renamed = vandyke.rename(columns={"treatment": "arm", "rating": "score"})
    shuffled = renamed.sample(frac=1.0, random_state=11)
    res = mrmc(shuffled, treatment="arm", rating="score")
    assert res.f_statistic == pytest.approx(vd.f_statistic, rel=1e-12)
    assert res.variance_components.cov3 == pytest.approx(vd.variance_components.cov3, rel=1e-12)


def test_three_treatments_need_a_contrast(vandyke):
    third = vandyke[vandyke["treatment"] == 1].assign(
        treatment=2, rating=lambda d: d["rating"] + (d["case"] % 3 == 0)
    )
    frame = pd.concat([vandyke, third], ignore_index=True)
    res = mrmc(frame)
    assert res.df_numerator == 2
    assert 0.0 <= res.p_value <= 1.0
    assert sorted(res.random.differences) == [(0, 1), (0, 2), (1, 2)]
    with pytest.raises(InputError, match="more than 2 treatments"):
        _ = res.difference
    picked = mrmc(frame, contrast=(0, 2))
    assert picked.difference == picked.random.differences[(0, 2)]


def test_missing_columns_are_listed(vandyke):
    with pytest.raises(InputError) as info:
        mrmc(vandyke.drop(columns=["truth"]), rating="score")
    assert str(info.value) == (
        "frame is missing column(s) ['truth', 'score']; columns present: "
        "['treatment', 'reader', 'case', 'rating']"
    )


def test_incomplete_design_names_the_reader_and_treatment(vandyke):
    gap = vandyke.drop(vandyke[(vandyke["reader"] == 3) & (vandyke["treatment"] == 1)].index[:2])
    with pytest.raises(InputError, match="reader 3 under treatment 1 rated 112 of the 114 cases"):
        mrmc(gap)


def test_single_class_and_conflicting_truth_are_refused(vandyke):
    with pytest.raises(InsufficientDataError, match="all 69 cases have truth 0"):
        mrmc(vandyke[vandyke["truth"] == 0])
    bad = vandyke.copy()
    bad.loc[(bad["case"] == 1) & (bad["reader"] == 0) & (bad["treatment"] == 0), "truth"] = 1
    with pytest.raises(InputError, match="case 1 has both truth 0 and truth 1"):
        mrmc(bad)


def test_duplicates_and_one_reader_are_refused(vandyke):
    with pytest.raises(InputError, match="1 duplicate rating"):
        mrmc(pd.concat([vandyke, vandyke.iloc[[5]]]))
    with pytest.raises(InsufficientDataError, match="found 2 treatment\\(s\\) and 1 reader"):
        mrmc(vandyke[vandyke["reader"] == 0])


def test_jackknife_closed_form_equals_leaving_a_case_out(vandyke):
    from metrics._mrmc import _aucs_and_jackknife

    one = vandyke[(vandyke["treatment"] == 0) & (vandyke["reader"] == 2)].sort_values("case")
    ratings = one["rating"].to_numpy()[None, None, :]
    truth = one["truth"].to_numpy() == 1
    _, jack = _aucs_and_jackknife(ratings, truth)
    for k in (0, 50, 113):
        keep = np.arange(truth.size) != k
        direct = roc_auc(truth[keep], ratings[0, 0, keep]).value
        assert jack[0, 0, k] == pytest.approx(direct, abs=1e-14)


# --------------------------------------------------------------------------- 2x2 measures
def _crossed(vandyke):
    from metrics._trial_compare import CrossedReads

    frame = vandyke.assign(label=(vandyke["rating"] >= 3).astype(int), overall="all")
    return CrossedReads.from_frame(frame, ["overall"])


def _brute_force_or(label, truth, measure):
    """The OR single-arm and difference results written out with loops (as the Iowa docs do)."""
    from scipy import stats

    T, R, K = label.shape
    fom = np.array([[measure(label[t, r], truth) for r in range(R)] for t in range(T)])
    jack = np.empty((T, R, K))
    for k in range(K):
        keep = np.arange(K) != k
        for t in range(T):
            for r in range(R):
                jack[t, r, k] = measure(label[t, r, keep], truth[keep])
    dev = jack - jack.mean(axis=2, keepdims=True)

    def cov(a, b):
        return (K - 1) / K * float((dev[a] * dev[b]).sum())

    cov2 = {t: np.mean([cov((t, r), (t, s)) for r in range(R) for s in range(R) if r != s])
            for t in range(T)}  # fmt: skip
    cov3 = np.mean([cov((0, r), (1, s)) for r in range(R) for s in range(R) if r != s])
    single = {}
    for t in range(T):
        msr = np.var(fom[t], ddof=1)
        den = msr + R * max(cov2[t], 0.0)
        df = den**2 / msr**2 * (R - 1)
        se = np.sqrt(den / R)
        half = stats.t.ppf(0.975, df) * se
        single[t] = (fom[t].mean(), fom[t].mean() - half, fom[t].mean() + half)
    means = fom.mean(axis=1)
    inter = fom - means[:, None] - fom.mean(axis=0)[None, :] + fom.mean()
    ms_tr = (inter**2).sum() / (R - 1)
    ms_t = R * ((means - fom.mean()) ** 2).sum()
    den = ms_tr + R * max(np.mean([cov2[0], cov2[1]]) - cov3, 0.0)
    ddf = den**2 / (ms_tr**2 / (R - 1))
    return single, ms_t / den, ddf


def test_or_of_reader_sensitivity_and_accuracy_matches_loops(vandyke):
    """Sensitivity and accuracy of the 0/1 calls (rating >= 3), readers and cases random."""
    from metrics._trial_compare import reader_or

    reads = _crossed(vandyke)
    sens = lambda lab, y: lab[y].mean()  # noqa: E731
    acc = lambda lab, y: (lab.astype(bool) == y).mean()  # noqa: E731
    for name, fn in (("sensitivity", sens), ("accuracy", acc)):
        res = reader_or(reads, name, alpha=0.05)
        single, f, ddf = _brute_force_or(reads.label, reads.truth, fn)
        for t, arm in enumerate(reads.arms):
            e = res.random.treatment_aucs[arm]
            assert (e.value, e.low, e.high) == pytest.approx(single[t], abs=1e-12)
        assert res.random.statistic == pytest.approx(f, rel=1e-10)
        assert res.random.df[1] == pytest.approx(ddf, rel=1e-10)
    # treatment 0: 185 of the 5 x 45 positive reads; Wilson on 225 "independent" reads would
    # give 0.7667-0.8670, the OR interval over readers and cases is more than twice as wide
    e = reader_or(reads, "sensitivity", alpha=0.05).random.treatment_aucs["0"]
    assert round(e.value, 7) == round(185 / 225, 7)
    assert (round(e.low, 4), round(e.high, 4)) == (0.6959, 0.9485)
    assert e.high - e.low > 2 * (0.8670 - 0.7667)


def test_or_of_accuracy_has_the_sample_covariance_over_cases(vandyke):
    """For a mean over cases the jackknife error variance is s^2 / K (a property check)."""
    from metrics._trial_compare import reader_or

    reads = _crossed(vandyke)
    res = reader_or(reads, "accuracy", alpha=0.05)
    correct = (reads.label.astype(bool) == reads.truth[None, None, :]).astype(float)
    K = correct.shape[-1]
    assert res.variance_components.var_error == pytest.approx(
        np.var(correct, axis=-1, ddof=1).mean() / K, rel=1e-12
    )


def test_reader_kappa_and_ac1_figures_are_the_agreement_functions(vandyke):
    from metrics import cohen_kappa_table, gwet_ac1_table
    from metrics._trial_compare import reader_or

    reads = _crossed(vandyke)
    for name, fn in (("Cohen kappa", cohen_kappa_table), ("Gwet AC1", gwet_ac1_table)):
        res = reader_or(reads, name, alpha=0.05)
        for t, arm in enumerate(reads.arms):
            values = []
            for r in range(len(reads.readers)):
                lab, y = reads.label[t, r].astype(bool), reads.truth
                table = [[(lab & y).sum(), (lab & ~y).sum()], [(~lab & y).sum(), (~lab & ~y).sum()]]
                values.append(fn(table).value)
            assert res.random.treatment_aucs[arm].value == pytest.approx(np.mean(values), 1e-12)
