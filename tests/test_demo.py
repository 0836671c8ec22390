"""The demo data generator: determinism, the input contract, realism, and the planted effects.

The checks read the generated files with pandas: they are test oracles on small data.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from radqa._demo_config import ReaderStudy
from radqa._demo_plan import compile_plan, month_range
from radqa._demo_reader_study import reader_study_table
from radqa.demo import DemoConfig, default_config, generate_demo
from radqa.errors import InputError

PREDICTION_COLUMNS = [
    "study_uid", "patient_id", "site", "study_datetime", "modality", "finding", "model_name",
    "model_version", "score", "predicted", "threshold", "body_part", "scanner_manufacturer",
    "scanner_model", "scanner_software", "station", "patient_age", "patient_sex",
]  # fmt: skip
READ_COLUMNS = [
    "study_uid", "finding", "reader_id", "label", "read_datetime", "read_role", "rating",
    "ai_assisted", "arm",
]  # fmt: skip
BODY_PARTS = {"CR": {"CHEST"}, "DX": {"CHEST"}, "CT": {"HEAD", "CHEST"}, "MR": {"HEAD", "SPINE"}}
CUTOFF = pd.Timestamp("2026-11-01")


def _load(files) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    preds = pd.concat([pd.read_parquet(p) for p in files.predictions], ignore_index=True)
    reads = pd.concat(
        [pd.read_csv(p, keep_default_na=False) for p in files.reads[:-1]], ignore_index=True
    )
    study = pd.read_csv(files.reader_study, keep_default_na=False)
    for df, col in ((preds, "study_datetime"), (reads, "read_datetime"), (study, "read_datetime")):
        df[col] = pd.to_datetime(df[col], format="%Y-%m-%dT%H:%M:%S")
    return preds, reads, study


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    files = generate_demo(tmp_path_factory.mktemp("small"), studies=5000, seed=7)
    return files, *_load(files)


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    files = generate_demo(tmp_path_factory.mktemp("medium"), studies=60_000, seed=7)
    return files, *_load(files)


def _files_bytes(files) -> dict[str, bytes]:
    paths = [*files.predictions, *files.reads, files.effects]
    return {p.name: p.read_bytes() for p in paths}


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    a = generate_demo(tmp_path / "a", studies=3000, seed=11)
    b = generate_demo(tmp_path / "b", studies=3000, seed=11)
    c = generate_demo(tmp_path / "c", studies=3000, seed=12)
    assert len(a.predictions) == 24 and len(a.reads) == 25
    assert _files_bytes(a) == _files_bytes(b)
    bytes_c = _files_bytes(c)
    assert bytes_c.keys() == _files_bytes(a).keys()
    differing = [n for n, v in _files_bytes(a).items() if bytes_c[n] != v]
    assert len(differing) == 24 + 25 + 1  # every file, effects.json through its seed


def test_regenerating_replaces_old_files(tmp_path):
    generate_demo(tmp_path, studies=2000, end_month="2026-12")
    files = generate_demo(tmp_path, studies=2000, end_month="2026-10")
    assert sorted(p.name for p in tmp_path.glob("predictions-*")) == sorted(
        p.name for p in files.predictions
    )
    assert not (tmp_path / "reads-2026-12.csv").exists()
    assert len(list(tmp_path.glob("reads-*.csv"))) == 24 + 1


def test_prediction_files_follow_the_contract(small):
    files, preds, _, _ = small
    schema = pq.read_schema(files.predictions[0])
    assert schema.names == PREDICTION_COLUMNS
    assert str(schema.field("score").type) == "double"
    assert str(schema.field("patient_age").type) == "int16"
    assert str(schema.field("study_datetime").type) == "string"
    assert preds["study_uid"].nunique() == 5000
    assert preds["score"].between(0, 1).all()
    assert (preds["predicted"] == (preds["score"] >= preds["threshold"]).astype(int)).all()
    assert preds["patient_age"].between(0, 130).all()
    assert 55 <= preds["patient_age"].median() <= 70
    assert set(preds["patient_sex"]) <= {"M", "F", "O", "U"}
    assert set(preds["modality"]) == {"CR", "DX", "CT", "MR"}
    for modality, parts in preds.groupby("modality")["body_part"].unique().items():
        assert set(parts) <= BODY_PARTS[modality]
    assert preds["patient_id"].str.fullmatch(r"P\d{9,}").all()
    per_study = preds.groupby("study_uid")["finding"].count()
    assert per_study.between(1, 4).all() and per_study.max() == 4
    # every study's columns are one value per study, and a patient keeps one sex
    study_cols = ["patient_id", "site", "study_datetime", "station", "patient_age"]
    assert (preds.groupby("study_uid")[study_cols].nunique() == 1).all().all()
    assert (preds.groupby("patient_id")["patient_sex"].nunique() == 1).all()
    assert (preds.groupby("patient_id")["study_uid"].nunique() > 1).any()
    # each month's file holds that month's studies
    months = {p.name[len("predictions-") : -len(".parquet")] for p in files.predictions}
    assert set(preds["study_datetime"].dt.strftime("%Y-%m")) == months


def test_read_files_follow_the_contract(small):
    files, preds, reads, study = small
    header = files.reads[0].read_text().splitlines()[0]
    assert header == ",".join(READ_COLUMNS)
    assert list(study.columns) == READ_COLUMNS
    assert set(reads["label"]) == {0, 1}
    assert set(reads["read_role"]) == {"primary", "second", "adjudication"}
    assert set(reads["ai_assisted"]) == {True, False}
    assert (reads["arm"] == "").all() and (reads["rating"] == "").all()
    assert reads["reader_id"].str.fullmatch(r"RAD-[A-Z]{3}-\d{3}").all()
    assert 20 <= reads["reader_id"].nunique() <= 40
    # each read file holds the reads made in its month, after the study and before the cut-off
    for path in files.reads[:-1]:
        month = path.name[len("reads-") : -len(".csv")]
        made = pd.read_csv(path, usecols=["read_datetime"])["read_datetime"].str[:7]
        assert (made == month).all()
    joined = reads.merge(preds, on=["study_uid", "finding"], how="left", validate="many_to_one")
    assert joined["site"].notna().all()
    assert (joined["read_datetime"] > joined["study_datetime"]).all()
    assert (joined["read_datetime"] < CUTOFF).all()
    # a reader belongs to the study's site
    code = {s.name: s.code for s in default_config().sites}
    assert (joined["reader_id"].str[4:7] == joined["site"].map(code)).all()
    # some reads come in a later month's file than their study
    assert (joined["read_datetime"].dt.month != joined["study_datetime"].dt.month).mean() > 0.1


def test_config_has_enough_sites_scanners_findings_and_volume():
    cfg = default_config()
    assert len(cfg.sites) >= 5
    scanners = [*cfg.scanners]
    assert len({s.manufacturer for s in scanners}) >= 4
    assert len({s.model for s in scanners}) >= 12
    assert len({f.name for f in cfg.findings}) >= 6
    total = sum(s.weight for s in cfg.sites)
    for site in cfg.sites:
        per_month = 200_000 / 24 * site.weight / total
        assert per_month >= 600, site.name
        assert len([s for s in scanners if s.site == site.name]) >= 3
    assert all(re.fullmatch(r"[A-Z]{3}-(CT|MR|DX|CR|DXP)\d", s.station) for s in scanners)
    assert 20 <= sum(s.radiologists for s in cfg.sites) <= 40


def test_model_auc_and_operating_points_are_realistic():
    plan = compile_plan(default_config(), seed=7, studies=1000, months=month_range("2026-10", 24))
    aucs = [d.auc() for d in plan.dists]
    assert min(aucs) >= 0.90 and max(aucs) <= 0.96
    assert all(0.70 <= d.sensitivity <= 0.95 and 0.85 <= d.specificity <= 0.97 for d in plan.dists)


def test_generated_data_show_the_configured_mix(medium):
    _, preds, reads, _ = medium
    assert preds["site"].nunique() == 5
    assert preds["scanner_manufacturer"].nunique() >= 5
    assert preds["scanner_model"].nunique() >= 13
    assert preds["finding"].nunique() >= 9
    versions = preds[preds["model_name"] == "ChestXR-Triage"].groupby("model_version")
    first = versions["study_datetime"].min()
    assert list(first.index) == ["2.1", "2.2"] and first["2.2"] >= pd.Timestamp("2025-07-01")
    assert versions["study_datetime"].max()["2.1"] < pd.Timestamp("2025-07-01")
    # prevalence by the primary read, chest films (configured 0.025, 0.08, 0.05, 0.07 + reader FP)
    chest = preds[preds["modality"].isin(["CR", "DX"])].merge(
        reads[reads["read_role"] == "primary"], on=["study_uid", "finding"]
    )
    prev = chest.groupby("finding")["label"].mean()
    assert 0.02 < prev["pneumothorax"] < 0.06
    assert 0.07 < prev["pleural_effusion"] < 0.12


def test_recent_studies_are_pending_and_old_ones_are_read(small):
    _, preds, reads, _ = small
    primary = reads[reads["read_role"] == "primary"][["study_uid", "finding"]]
    merged = preds.merge(primary, on=["study_uid", "finding"], how="left", indicator=True)
    pending = merged["_merge"] == "left_only"
    age = CUTOFF - merged["study_datetime"]
    assert not pending[age > pd.Timedelta(days=45)].any()
    assert pending[age < pd.Timedelta(days=7)].mean() > 0.8
    assert pending[age < pd.Timedelta(days=21)].mean() > 0.5
    assert pending[age > pd.Timedelta(days=30)].mean() < 0.02


def test_double_reads_adjudication_and_ai_assistance(medium):
    _, preds, reads, _ = medium
    roles = reads.groupby("read_role")["study_uid"].nunique()
    assert roles["second"] / roles["primary"] == pytest.approx(0.10, abs=0.01)
    wide = reads.pivot_table(
        index=["study_uid", "finding"], columns="read_role", values="label", aggfunc="first"
    )
    both = wide.dropna(subset=["primary", "second"])
    disagree = both[both["primary"] != both["second"]]
    assert len(disagree) > 200
    assert disagree["adjudication"].notna().mean() == pytest.approx(0.5, abs=0.08)
    assert wide["adjudication"].notna().sum() == disagree["adjudication"].notna().sum()
    primary = reads[reads["read_role"] == "primary"].drop_duplicates("study_uid")
    assert primary["ai_assisted"].mean() == pytest.approx(0.30, abs=0.02)
    # second and adjudicating readers differ from the primary reader
    readers = reads.pivot_table(
        index=["study_uid", "finding"], columns="read_role", values="reader_id", aggfunc="first"
    )
    two = readers.dropna(subset=["second"])
    assert (two["primary"] != two["second"]).all()
    three = readers.dropna(subset=["adjudication"])
    assert (three["adjudication"] != three["primary"]).all()
    assert (three["adjudication"] != three["second"]).all()


def test_reader_study_is_fully_crossed(medium):
    _, preds, reads, study = medium
    assert len(study) == 120 * 6 * 2
    assert study["study_uid"].nunique() == 120 and study["reader_id"].nunique() == 6
    assert (study.groupby(["study_uid", "reader_id", "arm"]).size() == 1).all()
    assert set(study["arm"]) == {"unaided", "aided"}
    assert (study["ai_assisted"] == (study["arm"] == "aided")).all()
    assert study["rating"].between(1, 5).all() and study["rating"].nunique() == 5
    assert (study["label"] == (study["rating"] >= 3).astype(int)).all()
    assert (study["finding"] == "lung_nodule").all()
    cases = preds[preds["study_uid"].isin(study["study_uid"]) & (preds["finding"] == "lung_nodule")]
    assert len(cases) == 120 and (cases["modality"] == "CR").all()
    clinical = reads[
        reads["study_uid"].isin(study["study_uid"]) & (reads["read_role"] == "primary")
    ]
    assert clinical[clinical["finding"] == "lung_nodule"]["study_uid"].nunique() == 120
    # the aided session comes after a washout
    first_aided = study[study["arm"] == "aided"]["read_datetime"].min()
    assert first_aided - study[study["arm"] == "unaided"]["read_datetime"].max() > pd.Timedelta(
        days=20
    )


def test_aided_readers_do_better_by_a_few_points_of_auc():
    cfg = default_config()
    plan = compile_plan(cfg, seed=7, studies=1000, months=month_range("2026-10", 24))
    n = 4000
    rng = np.random.default_rng(0)
    truth = rng.random(n) < 1 / 3
    zeros = np.zeros(n, dtype=np.int64)
    table = reader_study_table(
        plan, {"site": zeros, "month": zeros, "serial": np.arange(n), "truth": truth}
    ).to_pandas()
    table["truth"] = np.tile(truth, 2 * 6)
    auc = table.groupby(["arm", "reader_id"]).apply(
        lambda g: roc_auc_score(g["truth"], g["rating"]), include_groups=False
    )
    gain = auc["aided"].mean() - auc["unaided"].mean()
    assert 0.03 <= gain <= 0.05
    assert 0.78 <= auc["unaided"].mean() <= 0.88


def test_effects_json_shape(small):
    files = small[0]
    doc = json.loads(files.effects.read_text())
    assert list(doc) == ["seed", "studies", "months", "reference_months", "expected_values",
                         "effects", "model_version_switches"]  # fmt: skip
    switches = {(s["model_name"], s["model_version"], s["start"])
                for s in doc["model_version_switches"]}  # fmt: skip
    assert switches == {("ChestXR-Triage", "2.2", "2025-07"), ("CT-Lung", "3.1", "2026-04")}
    preds = small[1]
    first = preds.groupby(["site", "model_name", "model_version"])["study_datetime"].min()
    seen = {key: when.strftime("%Y-%m") for key, when in first.items()
            if key[1:] in {("ChestXR-Triage", "2.2"), ("CT-Lung", "3.1")}}  # fmt: skip
    planned = {(s["site"], s["model_name"], s["model_version"]): s["start"]
               for s in doc["model_version_switches"]}  # fmt: skip
    assert set(planned) == set(seen) and len(planned) == 10  # 5 sites x 2 models
    # the data's first study of a version is in the planned month, or later at a small site
    assert all(planned[k] <= seen[k] for k in planned)
    assert sum(planned[k] == seen[k] for k in planned) >= 9
    assert list(doc["expected_values"]) == [
        "expected_before_after", "expected_before_after_vs_reference"
    ]  # fmt: skip
    assert doc["seed"] == 7 and doc["studies"] == 5000
    assert doc["months"] == month_range("2026-10", 24)
    assert doc["months"][0] == "2024-11" and doc["reference_months"][-1] == "2025-04"
    assert len(doc["reference_months"]) == 6
    kinds = {
        "performance_shift": ({"site"}, ["sensitivity", "specificity"]),
        "scanner_software_upgrade": (
            {"site", "scanner_model", "scanner_software"},
            ["score_distribution", "positive_rate", "specificity"],
        ),
        "new_scanner_model": ({"site", "scanner_model"}, ["scanner_model"]),
        "prevalence_change": ({"site", "finding"}, ["prevalence"]),
    }
    assert sorted(e["kind"] for e in doc["effects"]) == sorted(kinds)
    for e in doc["effects"]:
        assert list(e) == [
            "id", "kind", "group", "start", "metrics", "description", "parameters"
        ]  # fmt: skip
        keys, metrics = kinds[e["kind"]]
        assert set(e["group"]) == keys and e["metrics"] == metrics
        assert e["start"] in doc["months"] and e["start"] > doc["reference_months"][-1]
        assert len(e["description"]) > 40 and e["parameters"]
        if "expected_before_after" in e["parameters"]:
            truth = e["parameters"]["expected_before_after"]
            vs_ref = e["parameters"]["expected_before_after_vs_reference"]
            assert list(vs_ref) == list(truth)
    assert sorted(e["start"] for e in doc["effects"]) == [
        "2025-09",
        "2026-01",
        "2026-03",
        "2026-06",
    ]


def _with_primary(preds: pd.DataFrame, reads: pd.DataFrame) -> pd.DataFrame:
    primary = reads[reads["read_role"] == "primary"][["study_uid", "finding", "label"]]
    return preds.merge(primary, on=["study_uid", "finding"])


def _sens_spec(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sens": df[df["label"] == 1].groupby("period")["predicted"].mean(),
            "spec": 1 - df[df["label"] == 0].groupby("period")["predicted"].mean(),
        }
    )


def _period(df: pd.DataFrame, start: str) -> pd.DataFrame:
    ref = df["study_datetime"] < pd.Timestamp("2025-05-01")
    after = df["study_datetime"] >= pd.Timestamp(start + "-01")
    out = df[ref | after].copy()
    out["period"] = np.where(ref[ref | after], "ref", "after")
    return out


def _memory_store(files):
    """The demo files straight into an in-memory store, reference standard refreshed (the
    ingest path is tested elsewhere; this measures what RadQA's metrics see)."""
    from radqa.store import memory_store, refresh_reference

    con = memory_store()
    preds = [str(p) for p in files.predictions]
    con.execute(
        """insert into studies (study_uid, site, modality, body_part, scanner_manufacturer,
            scanner_model, scanner_software, station, study_datetime, patient_age, patient_sex)
        select distinct study_uid, site, modality, body_part, scanner_manufacturer,
            scanner_model, scanner_software, station, study_datetime::timestamp, patient_age,
            patient_sex
        from read_parquet($files)""",
        {"files": preds},
    )
    con.execute(
        """insert into predictions (study_uid, finding, model_name, model_version, score,
            predicted, threshold, threshold_source, row_hash, batch_id)
        select study_uid, finding, model_name, model_version, score, predicted::boolean,
            threshold, 'file', 0, 1
        from read_parquet($files)""",
        {"files": preds},
    )
    con.execute(
        """insert into reads (study_uid, finding, reader_pid, read_role, arm, label,
            read_datetime, ai_assisted, row_hash, batch_id)
        select study_uid, finding, reader_id, read_role, coalesce(arm, ''), label,
            read_datetime, ai_assisted, 0, 2
        from read_csv($files, union_by_name = true)""",
        {"files": [str(p) for p in files.reads]},
    )
    refresh_reference(con)
    return con


def _measured_vs_expected(con, doc, figures):  # type: ignore[no-untyped-def]
    """(effect, model/finding, metric, period, x, n, expected) for each figure of each effect,
    measured by metrics.summarize in the effect's group: the reference window, and the
    effect's start to the last month."""
    import datetime as dt

    from metrics import Filters, summarize
    from metrics._periods import add_months, month_start

    windows = ((doc["reference_months"][0], doc["reference_months"][-1]), (None, doc["months"][-1]))
    out = []
    for e in doc["effects"]:
        group = e["group"]
        for key, expected in e["parameters"].get(figures, {}).items():
            model, finding = key.split("/")
            for i, (first, last) in enumerate(windows):
                f = Filters(
                    date_from=month_start(first or e["start"]),
                    date_to=month_start(add_months(last, 1)) - dt.timedelta(days=1),
                    site=group["site"], scanner_model=group.get("scanner_model", ()),
                    finding=finding, model_name=model,
                )  # fmt: skip
                r = summarize(con, by=(), filters=f, min_n=1).iloc[0]
                counts = {"sensitivity": (r.tp, r.tp + r.fn), "specificity": (r.tn, r.tn + r.fp),
                          "prevalence": (r.tp + r.fn, r.n_labelled)}  # fmt: skip
                pairs = (
                    expected.items() if isinstance(expected, dict) else [("prevalence", expected)]
                )
                for metric, values in pairs:
                    x, n = counts[metric]
                    out.append((e["id"], key, metric, i, int(x), int(n), values[i]))
    return out


def test_effects_vs_reference_are_what_the_store_shows(medium):
    """Each figure of effects.json against the reference standard lies in the binomial
    interval of what RadQA measures in a 60,000-study demo (two-sided exact binomial test,
    Bonferroni over all figures at 1%); the figures against the truth do not."""
    from scipy.stats import binomtest

    files = medium[0]
    doc = json.loads(files.effects.read_text())
    con = _memory_store(files)
    rows = _measured_vs_expected(con, doc, "expected_before_after_vs_reference")
    assert len(rows) == 62  # Kobe 10 findings, Osaka's Ysio Max 4, Tokyo effusion with prevalence
    level = 0.01 / len(rows)
    outside = [r for r in rows if binomtest(r[4], r[5], r[6]).pvalue < level]
    assert outside == []
    # the pneumothorax sensitivity planted at Kobe, against the truth and the reference
    kobe = next(e for e in doc["effects"] if e["id"] == "kobe-protocol-shift")["parameters"]
    assert kobe["expected_before_after"]["ChestXR-Triage/pneumothorax"]["sensitivity"] == [
        0.7905, 0.6105,
    ]  # fmt: skip
    vs_ref = kobe["expected_before_after_vs_reference"]["ChestXR-Triage/pneumothorax"]
    assert vs_ref == {"sensitivity": [0.5168, 0.4539], "specificity": [0.9283, 0.8791]}
    # the same check on the figures against the truth finds them far from what is measured
    truth = _measured_vs_expected(con, doc, "expected_before_after")
    far = [r[:4] for r in truth if binomtest(r[4], r[5], r[6]).pvalue < level]
    assert far == [
        ("kobe-protocol-shift", "ChestXR-Triage/pneumothorax", "sensitivity", 0),
        ("kobe-protocol-shift", "ChestXR-Triage/pleural_effusion", "sensitivity", 0),
    ]  # elsewhere, at 60,000 studies, the groups are too small to tell the two apart


def test_performance_shift_is_visible_and_other_sites_stay_stable(medium):
    _, preds, reads, _ = medium
    df = _with_primary(preds, reads)
    kobe = _sens_spec(_period(df[df["site"] == "Kobe Community Hospital"], "2025-09"))
    assert kobe.loc["ref", "sens"] - kobe.loc["after", "sens"] > 0.06
    assert kobe.loc["ref", "spec"] - kobe.loc["after", "spec"] > 0.03
    seoul = _sens_spec(_period(df[df["site"] == "Seoul National University Hospital"], "2025-09"))
    assert abs(seoul.loc["ref", "sens"] - seoul.loc["after", "sens"]) < 0.05
    assert abs(seoul.loc["ref", "spec"] - seoul.loc["after", "spec"]) < 0.01


def test_software_upgrade_is_visible_on_that_scanner_only(medium):
    _, preds, reads, _ = medium
    df = _with_primary(preds, reads)
    osaka = df[df["site"] == "Osaka University Hospital"]
    ysio = _period(osaka[osaka["scanner_model"] == "Ysio Max"], "2026-03")
    assert set(ysio[ysio["period"] == "after"]["scanner_software"]) == {"VF12B"}
    assert set(ysio[ysio["period"] == "ref"]["scanner_software"]) == {"VF10G"}
    ss = _sens_spec(ysio)
    assert ss.loc["ref", "spec"] - ss.loc["after", "spec"] > 0.06
    rate = ysio.groupby("period")["predicted"].mean()
    assert rate["after"] - rate["ref"] > 0.05
    neg_score = ysio[ysio["label"] == 0].groupby("period")["score"].median()
    assert neg_score["after"] - neg_score["ref"] > 0.05
    other = _sens_spec(_period(osaka[osaka["station"] == "OSK-DX2"], "2026-03"))
    assert abs(other.loc["ref", "spec"] - other.loc["after", "spec"]) < 0.02
    # the same scanner model at another site keeps its software
    snu = preds[
        (preds["site"] != "Osaka University Hospital") & (preds["scanner_model"] == "Ysio Max")
    ]
    assert set(snu["scanner_software"]) == {"VF10G"}


def test_new_scanner_model_appears_with_its_share(medium):
    _, preds, _, _ = medium
    studies = preds.drop_duplicates("study_uid")
    gc85 = studies[studies["scanner_model"] == "GC85A"]
    assert gc85["study_datetime"].min() >= pd.Timestamp("2026-01-01")
    assert set(gc85["site"]) == {"Busan Community Hospital"}
    busan_dx = studies[
        (studies["site"] == "Busan Community Hospital")
        & (studies["modality"] == "DX")
        & (studies["study_datetime"] >= pd.Timestamp("2026-01-01"))
    ]
    assert (busan_dx["scanner_model"] == "GC85A").mean() == pytest.approx(0.40, abs=0.04)
    # the modality mix of the site is unchanged
    busan = studies[studies["site"] == "Busan Community Hospital"]
    dx_share = (busan["modality"] == "DX").groupby(busan["study_datetime"] >= "2026-01-01").mean()
    assert abs(dx_share[True] - dx_share[False]) < 0.03


def test_prevalence_change_doubles_at_that_site_only(medium):
    _, preds, reads, _ = medium
    df = _with_primary(preds, reads)
    effusion = df[df["finding"] == "pleural_effusion"]
    tokyo = _period(effusion[effusion["site"] == "Tokyo Medical Center"], "2026-06")
    prev = tokyo.groupby("period")["label"].mean()
    assert prev["after"] / prev["ref"] > 1.5
    osaka = _period(effusion[effusion["site"] == "Osaka University Hospital"], "2026-06")
    prev = osaka.groupby("period")["label"].mean()
    assert abs(prev["after"] - prev["ref"]) < 0.03


def test_a_config_can_plant_effects_elsewhere(tmp_path):
    from radqa._demo_config import PrevalenceChange

    cfg = default_config()
    custom = DemoConfig(
        sites=cfg.sites,
        scanners=cfg.scanners,
        findings=cfg.findings,
        models=cfg.models,
        effects=(
            PrevalenceChange("p", "Kobe Community Hospital", "consolidation", "2025-03", 3.0),
        ),
        reader_study=ReaderStudy(cases=20),
        reference_months=3,
    )
    files = generate_demo(tmp_path, studies=3000, months=8, end_month="2025-06", config=custom)
    doc = json.loads(files.effects.read_text())
    assert doc["reference_months"] == ["2024-11", "2024-12", "2025-01"]
    assert [(e["id"], e["start"], e["group"]) for e in doc["effects"]] == [
        ("p", "2025-03", {"site": "Kobe Community Hospital", "finding": "consolidation"})
    ]
    assert {p.name for p in files.predictions} == {
        f"predictions-{m}.parquet" for m in month_range("2025-06", 8)
    }
    preds = pd.concat([pd.read_parquet(p) for p in files.predictions])
    assert "GC85A" not in set(preds["scanner_model"])
    with pytest.raises(
        InputError, match="effect 'p' starts at month offset 1 .* after the reference"
    ):
        generate_demo(
            tmp_path,
            studies=3000,
            config=DemoConfig(
                sites=cfg.sites,
                scanners=cfg.scanners,
                findings=cfg.findings,
                models=cfg.models,
                effects=(PrevalenceChange("p", cfg.sites[0].name, "consolidation", 1, 2.0),),
            ),
        )


@pytest.mark.slow
def test_a_million_studies(tmp_path):
    files = generate_demo(tmp_path, studies=1_000_000, seed=3)
    counts = [pq.ParquetFile(p).metadata.num_rows for p in files.predictions]
    assert len(counts) == 24
    # about 2.7 prediction rows per study (4 findings on chest films, 1-2 on CT and MR)
    assert 2.4e6 < sum(counts) < 3.0e6
    uids = pd.concat([pd.read_parquet(p, columns=["study_uid"]) for p in files.predictions])[
        "study_uid"
    ]
    assert uids.nunique() == 1_000_000


@pytest.mark.slow
def test_run_demo_loads_every_row_through_the_ingest(tmp_path):
    import duckdb

    from radqa.demo import run_demo

    run_demo(tmp_path, studies=3000, seed=5)
    demo = tmp_path / "demo"
    n_preds = sum(pq.ParquetFile(p).metadata.num_rows for p in demo.glob("predictions-*.parquet"))
    n_reads = sum(len(p.read_text().splitlines()) - 1 for p in demo.glob("reads-*.csv"))
    con = duckdb.connect(str(tmp_path / "radqa.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from studies").fetchall() == [(3000,)]
        assert con.execute("select count(*) from predictions").fetchall() == [(n_preds,)]
        assert con.execute("select count(*) from reads").fetchall() == [(n_reads,)]
        assert con.execute("select count(*) from quarantine").fetchall() == [(0,)]
        assert con.execute("select count(distinct site) from studies").fetchall() == [(5,)]
        arms = con.execute("select arm, count(*) from reads group by arm order by arm").fetchall()
        assert [a for a, _ in arms] == ["", "aided", "unaided"]
    finally:
        con.close()


def test_demo_settings_hold_the_vendor_claims_and_keep_a_hospitals_own(tmp_path):
    from radqa.demo import run_demo
    from radqa.settings import load_settings

    run_demo(tmp_path / "fresh", studies=3000)
    assert load_settings(tmp_path / "fresh").claims == {
        "ChestXR-Triage": {"accuracy": 0.974, "agreement": 0.93}
    }
    own = tmp_path / "own"
    own.mkdir()
    (own / "radqa.toml").write_text('[claims."CT-ICH"]\nsensitivity = 0.9\n')
    run_demo(own, studies=3000)
    assert load_settings(own).claims == {"CT-ICH": {"sensitivity": 0.9}}


def _snapshot_id(data_dir):
    import duckdb

    con = duckdb.connect(str(data_dir / "radqa.duckdb"), read_only=True)
    try:
        return con.execute("select snapshot_id from snapshot_info").fetchall()[0][0]
    finally:
        con.close()


def test_demo_is_never_mixed_into_data_already_there(tmp_path, capsys):
    """The same demo again is already built; another demo or a hospital's data is refused,
    saying what is there; replace=True starts over and keeps the key and the settings."""
    from radqa.cli import main
    from radqa.demo import run_demo

    data = tmp_path / "data"
    assert run_demo(data, studies=1000, seed=5) is True
    sid, key = _snapshot_id(data), (data / "pseudo.key").read_bytes()
    capsys.readouterr()
    assert run_demo(data, studies=1000, seed=5) is False
    assert capsys.readouterr().out == (
        f"{data} already holds the demo of 1,000 studies with seed 5; nothing to do\n"
    )
    with pytest.raises(InputError) as err:
        run_demo(data, studies=1000, seed=6)
    assert str(err.value) == (
        f"{data} already holds data: 49 loaded files (a demo of 1,000 studies with seed 5); the "
        "demo (1,000 studies with seed 6) is only loaded into a data dir without data, so that "
        "it is not mixed with other data. Use another --data-dir, or start over here with "
        "`radqa demo --replace`, which deletes radqa-work.duckdb, radqa.duckdb, "
        f"radqa-cases.duckdb and cache/ in {data} and keeps pseudo.key and radqa.toml"
    )
    assert _snapshot_id(data) == sid
    assert json.loads((data / "demo" / "effects.json").read_text())["seed"] == 5
    # the whole demo and a file of the hospital's: not "an incomplete demo, 50 of 49 files"

    _load_a_hospital_file(data, tmp_path, "9.9.9")
    with pytest.raises(InputError) as err:
        run_demo(data, studies=1000, seed=5)
    assert str(err.value).startswith(
        f"{data} already holds data: the demo of 1,000 studies with seed 5 (49 of its 49 files) "
        "and 1 other file (site-a.csv); the demo (1,000 studies with seed 5) is only loaded"
    )

    (data / "radqa.toml").write_text('[claims."CT-ICH"]\nsensitivity = 0.9\n')
    assert main(["--data-dir", str(data), "demo", "--studies", "1000", "--seed", "6",
                 "--replace"]) == 0  # fmt: skip
    assert json.loads((data / "demo" / "effects.json").read_text())["seed"] == 6
    assert (data / "pseudo.key").read_bytes() == key
    assert (data / "radqa.toml").read_text() == '[claims."CT-ICH"]\nsensitivity = 0.9\n'
    import duckdb

    con = duckdb.connect(str(data / "radqa.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from studies").fetchall() == [(1000,)]
        assert con.execute("select count(*) from ingest_batches").fetchall() == [(49,)]
    finally:
        con.close()


def test_demo_refuses_a_hospitals_data_and_names_its_files(tmp_path):
    from radqa.demo import run_demo

    data = tmp_path / "hospital"
    _load_a_hospital_file(data, tmp_path)
    with pytest.raises(InputError, match=r"already holds data: 1 loaded file \(site-a.csv\); "):
        run_demo(data, studies=1000, seed=5)
    assert not (data / "demo").exists() and not (data / "radqa.toml").exists()


@pytest.mark.parametrize("studies", [24, 50])
def test_a_demo_of_one_study_per_month_loads(tmp_path, studies):
    """Months without a read (and a reader study without a case) have no file: an empty CSV,
    header only, is refused by ingest."""
    import duckdb

    from radqa.demo import run_demo

    assert run_demo(tmp_path, studies=studies, seed=7) is True
    demo = tmp_path / "demo"
    csvs = sorted(demo.glob("reads-*.csv"))
    assert all(len(p.read_text().splitlines()) > 1 for p in csvs)
    assert len(list(demo.glob("predictions-*.parquet"))) == 24
    con = duckdb.connect(str(tmp_path / "radqa.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from studies").fetchall() == [(studies,)]
        assert con.execute("select count(*) from quarantine").fetchall() == [(0,)]
        batches = con.execute("select status, count(*) from ingest_batches group by all")
        assert batches.fetchall() == [("committed", 24 + len(csvs))]
    finally:
        con.close()
    if studies == 24:  # seed 7 leaves months without a read, and no reader-study case
        assert len(csvs) == 20 and not (demo / "reads-reader-study.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"seed": -1}, "--seed is -1; expected a whole number >= 0"),
        ({"studies": 23}, "--studies is 23; expected a whole number, at least one per month (24)"),
        (
            {"studies": 2.5},
            "--studies is 2.5; expected a whole number, at least one per month (24)",
        ),
    ],
)
def test_bad_seed_or_size_is_refused_before_anything_is_written(tmp_path, args, message):
    from radqa.demo import run_demo

    with pytest.raises(InputError) as err:
        run_demo(tmp_path / "data", **({"studies": 100} | args))
    assert str(err.value) == message
    assert not (tmp_path / "data").exists()


def test_cli_demo_with_a_negative_seed_exits_2_with_a_message(tmp_path, capsys):
    from radqa.cli import main

    assert main(["--data-dir", str(tmp_path / "d"), "demo", "--seed", "-1"]) == 2
    assert capsys.readouterr().err == "radqa: error: --seed is -1; expected a whole number >= 0\n"


def test_a_demo_that_fails_to_load_leaves_no_store(tmp_path, monkeypatch):
    """A refused file half way: the store (predictions already published) is removed."""
    import radqa.demo as demo_module

    real = demo_module.generate_demo

    def broken(out, **kwargs):  # type: ignore[no-untyped-def]
        files = real(out, **kwargs)
        files.reads[3].write_text(files.reads[3].read_text().splitlines()[0] + "\n")
        return files

    monkeypatch.setattr(demo_module, "generate_demo", broken)
    with pytest.raises(InputError) as err:
        demo_module.run_demo(tmp_path, studies=300, seed=7)
    assert str(err.value).startswith("the demo reads did not load cleanly: reads-2025-02.csv: ")
    assert str(err.value).endswith(
        f"; the partly loaded store was removed (the demo files stay in {tmp_path / 'demo'})"
    )
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["demo", "pseudo.key", "radqa.toml"]


def test_replace_refuses_while_another_process_writes(tmp_path):
    """`radqa demo --replace` deleted the working database under a running ingest, which then
    reported its batch committed (a QA tester): now it refuses, and the store stays."""
    import subprocess
    import sys

    from radqa.demo import run_demo
    from radqa.errors import StoreError

    data = tmp_path / "data"
    _load_a_hospital_file(data, tmp_path)
    writer = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from radqa import store; con = store.connect_working(sys.argv[1]); "
         "print('ready', flush=True); time.sleep(60)", str(data)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        with pytest.raises(StoreError, match="Only one ingest may run at a time"):
            run_demo(data, studies=1000, seed=5, replace=True)
    finally:
        writer.kill()
        writer.wait()
    assert (data / "radqa-work.duckdb").is_file() and (data / "radqa.duckdb").is_file()
    assert not (data / "demo").exists()


def test_the_writer_lock_is_held_while_the_store_is_removed(tmp_path):
    """--replace released the lock before deleting the files: an ingest starting in between
    reported its batch committed, and it was gone (a QA tester). The lock now spans the
    deletion: another process cannot open the working database meanwhile."""
    import subprocess
    import sys

    from radqa import store
    from radqa._demo_store import remove_store

    data = tmp_path / "data"
    _load_a_hospital_file(data, tmp_path)
    probe = (
        "import sys\nfrom radqa import store\nfrom radqa.errors import StoreError\n"
        "try:\n    store.connect_working(sys.argv[1]).close()\nexcept StoreError as e:\n"
        "    print(e)\nelse:\n    print('opened')"
    )
    with store.writer_lock(data):
        said = subprocess.run(
            [sys.executable, "-c", probe, str(data)], capture_output=True, text=True, check=True
        ).stdout
        assert "Only one ingest may run at a time" in said
        remove_store(data)
    assert not store.working_path(data).exists()
    assert not (data / "radqa-work.duckdb.wal").exists()  # nothing written back on close


def test_replace_starts_over_from_a_damaged_working_database(tmp_path):
    """A working database that is not a database was refused by --replace as 'only one ingest
    may run at a time', though nothing ran (a QA tester); --replace is how one starts over."""
    from radqa import store
    from radqa.demo import run_demo
    from radqa.errors import StoreError

    data = tmp_path / "data"
    data.mkdir()
    store.working_path(data).write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError) as err:
        store.connect_working(data)
    assert "Only one ingest" not in str(err.value)
    assert "it is damaged or not a RadQA database" in str(err.value)
    assert run_demo(data, studies=1000, seed=5, replace=True) is True
    con = store.open_snapshot(data)
    try:
        assert con.execute("select count(*) from studies").fetchall() == [(1000,)]
    finally:
        con.close()


def _load_a_hospital_file(data: Path, tmp_path: Path, study_uid: str = "1.2.3") -> None:
    """Ingest one prediction of a hospital's own into ``data`` (file site-a.csv)."""
    from ingest.load import ingest_files

    csv = tmp_path / "site-a.csv"
    csv.write_text(
        "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,"
        f"score\n{study_uid},P1,A,2026-10-01,CR,effusion,M,1,0.4\n"
    )
    assert ingest_files(data, "predictions", [csv])[0].status == "committed"
