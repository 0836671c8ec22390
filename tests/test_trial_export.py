"""`radqa export trial`: the Van Dyke reader study loaded as reads, a small parallel trial, files."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingest.load import ingest_files
from metrics import difference_ci
from radqa.cli import main
from radqa.errors import InputError
from reports.trial import export_trial

FINDING = "aortic_dissection"


# ----------------------------------------------------------------------------- Van Dyke
def vandyke_as_files(vd: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """Van Dyke (RJafroc dataset02) as a predictions file and a reads file.

    Per case an adjudication read (arm '') gives the truth; per reader x treatment x case a read
    in arm 'trt0' / 'trt1' with the rating and label = rating >= 3; a prediction per case.
    """
    cases = vd.drop_duplicates("case")[["case", "truth"]].sort_values("case")
    study = "VD-STUDY-" + cases["case"].astype(str).str.zfill(3)
    when = pd.Timestamp("2026-03-02 08:00") + pd.to_timedelta(cases["case"].to_numpy(), unit="h")
    preds = pd.DataFrame(
        {
            "study_uid": study.to_numpy(),
            "patient_id": ("RAWPATIENT-" + cases["case"].astype(str)).to_numpy(),
            "site": np.where(cases["case"] % 2 == 1, "north", "south"),
            "study_datetime": when.strftime("%Y-%m-%dT%H:%M:%S"),
            "modality": "MR",
            "finding": FINDING,
            "model_name": "aorta-ai",
            "model_version": "2.1",
            "score": np.round(
                0.3 + 0.4 * cases["truth"].to_numpy() + 0.05 * (cases["case"] % 5), 3
            ),
            "patient_age": 30 + cases["case"].to_numpy() % 50,
            "patient_sex": np.where(cases["case"] % 3 == 0, "M", "F"),
        }
    )
    adj = pd.DataFrame(
        {
            "study_uid": study.to_numpy(),
            "finding": FINDING,
            "reader_id": "RAWREADER-panel",
            "label": cases["truth"].to_numpy(),
            "read_datetime": (when + pd.Timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S"),
            "read_role": "adjudication",
            "rating": np.nan,
            "arm": "",
        }
    )
    lookup = dict(zip(cases["case"], study, strict=True))
    times = dict(zip(cases["case"], when, strict=True))
    arm = pd.DataFrame(
        {
            "study_uid": vd["case"].map(lookup),
            "finding": FINDING,
            "reader_id": "RAWREADER-" + vd["reader"].astype(str),
            "label": (vd["rating"] >= 3).astype(int),
            "read_datetime": [
                (times[c] + pd.Timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S") for c in vd["case"]
            ],
            "read_role": "primary",
            "rating": vd["rating"],
            "arm": "trt" + vd["treatment"].astype(str),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    preds.to_csv(folder / "predictions.csv", index=False)
    pd.concat([adj, arm]).to_csv(folder / "reads.csv", index=False)
    return folder / "predictions.csv", folder / "reads.csv"


@pytest.fixture(scope="module")
def vandyke(reference_dir):
    return pd.read_csv(reference_dir / "RJafroc_dataset02_VanDyke.csv")


@pytest.fixture(scope="module")
def vd_dir(vandyke, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("vandyke")
    preds, reads = vandyke_as_files(vandyke, data_dir / "in")
    assert ingest_files(data_dir, "predictions", [preds])[0].status == "committed"
    assert ingest_files(data_dir, "reads", [reads])[0].status == "committed"
    return data_dir


@pytest.fixture(scope="module")
def vd_export(vd_dir):
    out = vd_dir / "export"
    written = export_trial(vd_dir, out)
    return out, written, json.loads((out / "trial.json").read_text())


def test_vandyke_mrmc_sheet_shows_the_published_or_results(vd_export):
    _, _, doc = vd_export
    assert doc["design"]["analysed"] == "mrmc"
    assert "5 readers rated all 114 cases" in doc["design"]["reason"]
    aucs = {(r["analysis"][:4], r["arm"]): r["auc"] for r in doc["tables"]["mrmc_arm_aucs"]}
    assert aucs[("rand", "trt0")] == pytest.approx(0.89703704, abs=1e-8)
    assert aucs[("rand", "trt1")] == pytest.approx(0.94083736, abs=1e-8)
    rows = {r["analysis"].split("(")[1][:4]: r for r in doc["tables"]["mrmc"]}
    rrrc, frrc, rrfc = rows["RRRC"], rows["FRRC"], rows["RRFC"]
    assert rrrc["comparison"] == "trt0 - trt1"
    assert round(rrrc["statistic"], 2) == 4.46
    assert (rrrc["df_numerator"], round(rrrc["df_denominator"], 2)) == (1, 15.26)
    assert round(rrrc["p_value"], 4) == 0.0517
    assert (round(rrrc["ci_low"], 5), round(rrrc["ci_high"], 5)) == (-0.08796, 0.00036)
    assert round(frrc["statistic"], 5) == 5.47595
    assert round(frrc["p_value"], 4) == 0.0193
    assert round(rrfc["statistic"], 2) == 8.70
    assert (rrfc["df_numerator"], rrfc["df_denominator"]) == (1, 4)
    assert round(rrfc["p_value"], 4) == 0.0420
    assert len(doc["tables"]["reader_aucs"]) == 10


def test_vandyke_reader_estimates_account_for_readers_and_cases(vd_export, vandyke):
    """MRMC: reader rows are reader averages with OR intervals, not Wilson / DeLong on reads."""
    _, _, doc = vd_export
    est = pd.DataFrame(doc["tables"]["estimates"])
    readers = est[est.subject == "readers"]
    overall = readers[readers.dimension == "overall"].set_index(["arm", "measure"])
    # the AUC rows are the Iowa single-treatment (random readers and cases) intervals
    # (RJafroc goodValues361/Iowa/VanDyke.txt), as on the mrmc_arm_aucs sheet
    auc = overall.loc[("trt0", "auc")]
    assert (round(auc["estimate"], 8), round(auc["ci_low"], 8), round(auc["ci_high"], 8)) == (
        0.89703704,
        0.82522360,
        0.96885048,
    )
    assert "Obuchowski-Rockette" in auc["method"]
    # sensitivity of rating >= 3 in trt0: 185 of 225 reads of the 45 positive cases; the
    # pooled Wilson interval 0.767-0.867 took the 225 reads as independent
    sens = overall.loc[("trt0", "sensitivity")]
    assert sens["estimate"] == pytest.approx(185 / 225, rel=1e-12)
    assert (round(sens["ci_low"], 4), round(sens["ci_high"], 4)) == (0.6959, 0.9485)
    assert sens["method"].startswith("reader-averaged; Obuchowski-Rockette (1995)")
    # no reader row carries an interval computed as if the reads were independent
    wilson = readers[readers.method == "Wilson score"]
    assert set(wilson.measure) == {"prevalence"}
    prev = overall.loc[("trt0", "prevalence")]
    assert (prev["estimate"], prev["note"]) == (
        pytest.approx(45 / 114),
        "45 of 114 cases (each case once)",
    )
    assert not readers.method.str.contains("DeLong").any()
    lr = overall.loc[("trt0", "lr_positive")]
    assert pd.isna(lr["ci_low"]) and "no interval" in lr["note"]


def test_vandyke_flow_baseline_reference_and_provenance(vd_export, vd_dir):
    _, _, doc = vd_export
    flow = {(r["arm"], r["site"]): r for r in doc["tables"]["flow"]}
    everything = flow[("(all cases)", "(all cases)")]
    assert (everything["eligible"], everything["analysed"]) == (114, 114)
    assert everything["excluded_no_prediction"] == 0
    assert flow[("trt0", "north")]["analysed"] == 57
    ref = {r["item"]: r["value"] for r in doc["tables"]["reference_standard"]}
    assert ref["share adjudicated"] == 1.0
    prevalence = [
        r
        for r in doc["tables"]["baseline"]
        if r["characteristic"].startswith("prevalence") and r["group"] == "trt0"
    ]
    assert prevalence[0]["n"] == 45 and prevalence[0]["value"] == pytest.approx(45 / 114)
    prov = doc["provenance"]
    import hashlib

    snapshot = (vd_dir / "radqa.duckdb").read_bytes()
    assert (
        prov["snapshot content hash (sha256 of the snapshot file)"]
        == hashlib.sha256(snapshot).hexdigest()
    )
    assert prov["parameter: design"] == "auto" and prov["RadQA version"]
    assert "Obuchowski-Rockette (1995)" in doc["methods"] and "Hillis (2007)" in doc["methods"]


def test_export_holds_no_raw_identifier(vd_export):
    out, written, _ = vd_export
    assert {p.suffix for p in written} == {".xlsx", ".csv", ".json"}
    texts = [p.read_text() for p in written if p.suffix in (".csv", ".json")]
    with zipfile.ZipFile(out / "trial.xlsx") as z:
        texts += [z.read(n).decode() for n in z.namelist() if n.endswith(".xml")]
    for raw in ("RAWREADER", "RAWPATIENT", "VD-STUDY"):
        assert not any(raw in t for t in texts), raw


def test_workbook_sheets_and_formats(vd_export):
    out, _, _ = vd_export
    with zipfile.ZipFile(out / "trial.xlsx") as z:
        book = z.read("xl/workbook.xml").decode()
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        styles = z.read("xl/styles.xml").decode()
    for name in ("design", "flow", "baseline", "two_by_two", "estimates", "mrmc", "provenance"):
        assert f'name="{name}"' in book
    assert 'state="frozen"' in sheet and 'ySplit="1"' in sheet
    assert 'formatCode="0.000"' in styles


@pytest.mark.skipif(
    not (shutil.which("libreoffice") or shutil.which("soffice")),
    reason="LibreOffice is not installed (scripts/install-system-packages.sh installs it)",
)
def test_workbook_opens_in_libreoffice(vd_export, tmp_path):
    out, _, _ = vd_export
    binary = shutil.which("libreoffice") or shutil.which("soffice")
    subprocess.run(
        [
            binary,
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(out / "trial.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "trial.pdf"
    assert pdf.exists() and pdf.stat().st_size > 20_000
    assert pdf.read_bytes().startswith(b"%PDF")


def test_paired_design_refuses_several_readers_on_the_same_cases(vd_dir, tmp_path):
    """McNemar on 570 reader x case pairs of 114 cases would take the 5 reads of a case as
    independent: the paired design is refused and the message points to MRMC."""
    with pytest.raises(InputError) as err:
        export_trial(vd_dir, tmp_path, design="paired", formats=("json",))
    assert str(err.value) == (
        "design 'paired' needs one pair per case; found 570 reader x case pairs on 114 cases "
        "from 5 readers, and McNemar's test and the paired Newcombe interval would treat the "
        "reads of one case as independent; use --design mrmc (Obuchowski-Rockette, readers and "
        "cases random)"
    )
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def one_reader_dir(vandyke, tmp_path_factory):
    """Van Dyke's reader 1 alone: one read per case in each treatment (a paired study)."""
    data_dir = tmp_path_factory.mktemp("one_reader")
    preds, reads = vandyke_as_files(vandyke[vandyke["reader"] == 1], data_dir / "in")
    assert ingest_files(data_dir, "predictions", [preds])[0].status == "committed"
    assert ingest_files(data_dir, "reads", [reads])[0].status == "committed"
    return data_dir


def test_paired_design_with_one_pair_per_case(one_reader_dir, vandyke, tmp_path):
    export_trial(one_reader_dir, tmp_path, formats=("json",))
    doc = json.loads((tmp_path / "trial.json").read_text())
    assert doc["design"]["analysed"] == "paired"
    one = vandyke[vandyke["reader"] == 1]
    wide = one.pivot_table(index="case", columns="treatment", values="rating")
    truth = one.drop_duplicates("case").set_index("case")["truth"].loc[wide.index] == 1
    ok0, ok1 = (wide[0] >= 3) == truth, (wide[1] >= 3) == truth
    rows = {r["outcome"]: r for r in doc["tables"]["paired"]}
    acc = rows["correct read (accuracy)"]
    assert (acc["pairs"], acc["both"], acc["a_only"], acc["b_only"], acc["neither"]) == (
        114,
        int((ok0 & ok1).sum()),
        int((ok0 & ~ok1).sum()),
        int((~ok0 & ok1).sum()),
        int((~ok0 & ~ok1).sum()),
    )
    assert acc["test"] == "McNemar chi-square"
    # the endpoint sheet carries the paired difference with its test
    diff = [r for r in doc["tables"]["endpoint"] if r["arm"] == "trt0 - trt1"]
    assert len(diff) == 1
    assert (diff[0]["estimate"], diff[0]["p_value"], diff[0]["statistic"]) == (
        acc["estimate"],
        acc["p_value"],
        acc["test_statistic"],
    )
    assert diff[0]["estimate"] == pytest.approx((ok0.sum() - ok1.sum()) / 114)
    methods = doc["methods"]
    assert "McNemar" in methods and "square-and-add" in methods
    for absent in ("Obuchowski", "Katz", "hybrid score"):
        assert absent not in methods
    cited = " ".join(doc["references"])
    assert "McNemar" in cited and "paired data" in cited and "Obuchowski" not in cited


def test_export_writes_nothing_into_the_data_dir(vd_dir, tmp_path):
    def listing():
        return {
            str(p.relative_to(vd_dir)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(vd_dir.rglob("*"))
            if p.relative_to(vd_dir).parts[0] != "export"  # the vd_export fixture's --out
        }

    before = listing()
    written = export_trial(vd_dir, tmp_path / "out", formats=("json",))
    assert written == [tmp_path / "out" / "trial.json"]
    assert listing() == before
    with pytest.raises(Exception, match="no published snapshot"):
        export_trial(tmp_path / "typo", tmp_path / "out2")
    assert not (tmp_path / "typo").exists() and not (tmp_path / "out2").exists()


def test_cli_prints_the_written_paths(vd_dir, tmp_path, capsys):
    code = main(
        [
            "--data-dir",
            str(vd_dir),
            "export",
            "trial",
            "--out",
            str(tmp_path),
            "--format",
            "csv",
            "--endpoint",
            "missed_findings",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out.split()
    assert str(tmp_path / "trial_endpoint.csv") in printed
    endpoint = pd.read_csv(tmp_path / "trial_endpoint.csv")
    assert endpoint["endpoint"].tolist()[:3] == [
        "missed findings rate (FN / reference positives), reader-averaged",
        "missed findings rate (FN / reference positives), reader-averaged",
        "difference: missed findings rate (FN / reference positives), reader-averaged",
    ]


# ----------------------------------------------------------------------------- parallel trial
def _small_trial(folder: Path, arms: dict[str, str], *, ratings: bool = False) -> Path:
    """Eight studies, one read per case in arm A (S1-S4) or B (S5-S9); see the flow test."""
    preds = pd.DataFrame(
        [
            (
                f"S{i}",
                f"RAWPATIENT-{i}",
                "north" if i % 2 else "south",
                f"2026-05-0{i}",
                "CR",
                finding,
                "chest-ai",
                "1.0",
                0.2 + 0.1 * i,
                50 + i,
                "F" if i % 2 else "M",
            )
            for i in range(1, 9)
            for finding in (["nodule", "rare"] if i <= 4 else ["nodule"])
        ],
        columns=[
            "study_uid",
            "patient_id",
            "site",
            "study_datetime",
            "modality",
            "finding",
            "model_name",
            "model_version",
            "score",
            "patient_age",
            "patient_sex",
        ],
    )
    ref = {1: 1, 2: 1, 3: 0, 4: 0, 5: 1, 6: 0}
    clinical = [
        (f"S{i}", "nodule", "RAWREADER-adj", lab, "adjudication", "") for i, lab in ref.items()
    ]
    clinical += [(f"S{i}", "rare", "RAWREADER-adj", 0, "adjudication", "") for i in range(1, 5)]
    clinical += [
        ("S8", "nodule", "RAWREADER-p", 1, "primary", ""),
        ("S8", "nodule", "RAWREADER-s", 0, "second", ""),
    ]  # a tie: indeterminate
    arm_reads = [("S1", "nodule", 1), ("S2", "nodule", 0), ("S3", "nodule", 0), ("S4", "nodule", 1)]
    arm_reads += [(f"S{i}", "rare", 0) for i in range(1, 5)]
    b_reads = [
        ("S5", "nodule", 1),
        ("S6", "nodule", 0),
        ("S7", "nodule", 1),
        ("S8", "nodule", 1),
        ("S9", "nodule", 0),
    ]
    rows = [(s, f, r, lab, role, arm) for s, f, r, lab, role, arm in clinical]
    rows += [(s, f, "RAWREADER-1", lab, "primary", arms["A"]) for s, f, lab in arm_reads]
    rows += [(s, f, "RAWREADER-2", lab, "primary", arms["B"]) for s, f, lab in b_reads]
    reads = pd.DataFrame(
        rows, columns=["study_uid", "finding", "reader_id", "label", "read_role", "arm"]
    )
    reads["read_datetime"] = "2026-05-20T10:00:00"
    if ratings:
        reads["rating"] = reads["label"] * 4 + 1
    folder.mkdir(parents=True, exist_ok=True)
    preds.to_csv(folder / "p.csv", index=False)
    reads.to_csv(folder / "r.csv", index=False)
    ingest_files(folder, "predictions", [folder / "p.csv"])
    ingest_files(folder, "reads", [folder / "r.csv"])
    return folder


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return _small_trial(tmp_path_factory.mktemp("small"), {"A": "A", "B": "B"})


def test_parallel_flow_zero_cells_and_comparisons(small, tmp_path):
    export_trial(small, tmp_path, formats=("json",))
    doc = json.loads((tmp_path / "trial.json").read_text())
    assert doc["design"]["analysed"] == "parallel"
    flow = {(r["arm"], r["site"]): r for r in doc["tables"]["flow"]}
    total = flow[("(all cases)", "(all cases)")]
    assert [
        total[k]
        for k in (
            "eligible",
            "excluded_no_prediction",
            "excluded_no_reference_read",
            "excluded_indeterminate_reference",
            "analysed",
        )
    ] == [13, 1, 1, 1, 10]
    assert (flow[("A", "(all cases)")]["analysed"], flow[("B", "(all cases)")]["analysed"]) == (
        8,
        2,
    )
    two = pd.DataFrame(doc["tables"]["two_by_two"])
    overall = two[(two.subject == "readers") & (two.dimension == "overall")].set_index("arm")
    assert overall.loc["A", ["tp", "fp", "fn", "tn"]].tolist() == [1, 1, 1, 5]
    assert overall.loc["B", ["tp", "fp", "fn", "tn"]].tolist() == [1, 0, 0, 1]
    est = pd.DataFrame(doc["tables"]["estimates"])
    rare = est[(est.subject == "readers") & (est.dimension == "finding") & (est.level == "rare")]
    sens = rare.set_index("measure").loc["sensitivity"]
    assert sens["estimate"] is None or np.isnan(sens["estimate"])
    assert "no reference positives" in sens["note"]
    assert any("zero cells" in str(r["value"]) for r in doc["tables"]["design"])
    comp = [
        r
        for r in doc["tables"]["comparisons"]
        if r["outcome"].startswith("correct") and r["statistic"].startswith("difference")
    ][0]
    expected = difference_ci(6, 8, 2, 2)
    assert (comp["estimate"], comp["ci_low"]) == (
        pytest.approx(expected.value),
        pytest.approx(expected.low),
    )
    index = doc["tables"]["index_test"][0]
    assert (index["threshold_source"], index["prespecified"]) == ("default", False)


@pytest.mark.parametrize(
    ("design", "message"),
    [
        ("paired", "design 'paired' needs cases read under every arm (A, B); found none of 10"),
        ("mrmc", "design 'mrmc' needs a rating on every arm read (0 of 10 have one)"),
    ],
)
def test_unsupported_design_names_what_is_missing(small, tmp_path, design, message):
    with pytest.raises(InputError) as err:
        export_trial(small, tmp_path, design=design)
    assert str(err.value).startswith(message)
    assert not list(tmp_path.iterdir())


def test_one_arm_is_refused(tmp_path):
    data = _small_trial(tmp_path / "one", {"A": "A", "B": "A"})
    with pytest.raises(InputError, match=r"at least two arms; found 1 \(A\)"):
        export_trial(data, tmp_path / "out")


def test_bad_arguments(small, tmp_path):
    with pytest.raises(InputError, match="expected a comma-separated list of xlsx, csv, json"):
        export_trial(small, tmp_path, formats=("pdf",))
    with pytest.raises(InputError, match="--from is '2026-13-01'"):
        export_trial(small, tmp_path, date_from="2026-13-01")
    with pytest.raises(InputError, match="no read has a value in arm column 'group'"):
        export_trial(small, tmp_path, arm_column="group")


def test_vandyke_endpoint_sheet_has_the_arm_difference(vd_export, vandyke):
    """MRMC: the endpoint sheet gives trt0 - trt1 by Obuchowski-Rockette, and the methods
    paragraph names only the methods the MRMC sheets use."""
    _, _, doc = vd_export
    rows = doc["tables"]["endpoint"]
    per_arm = {r["arm"]: r for r in rows if r["arm"] in ("trt0", "trt1")}
    diffs = {r["endpoint"]: r for r in rows if r["arm"] == "trt0 - trt1"}
    assert set(per_arm) == {"trt0", "trt1"} and len(diffs) == 2
    # the AUC difference: Iowa OR-DBM MRMC 2.51 (RJafroc goodValues361/Iowa/VanDyke.txt)
    auc = diffs["difference: reader-averaged AUC of the ratings (MRMC ROC analysis)"]
    assert round(auc["estimate"], 8) == -0.04380032
    assert (round(auc["statistic"], 2), auc["df_numerator"]) == (4.46, 1)
    assert (round(auc["df_denominator"], 2), round(auc["p_value"], 4)) == (15.26, 0.0517)
    assert (round(auc["ci_low"], 5), round(auc["ci_high"], 5)) == (-0.08796, 0.00036)
    # the endpoint itself (accuracy of rating >= 3): the difference of the reader averages
    acc = diffs["difference: accuracy ((TP + TN) / reads), reader-averaged"]
    a0, a1 = per_arm["trt0"], per_arm["trt1"]
    correct = (vandyke["rating"] >= 3) == (vandyke["truth"] == 1)
    events = correct.groupby(vandyke["treatment"]).sum()
    assert (a0["events"], a0["denominator"]) == (int(events[0]), 570)
    assert acc["estimate"] == pytest.approx(a0["estimate"] - a1["estimate"], abs=1e-12)
    assert a0["estimate"] == pytest.approx(events[0] / 570, rel=1e-12)
    assert a1["estimate"] == pytest.approx(events[1] / 570, rel=1e-12)
    assert acc["statistic_name"] == "F" and 0 < acc["p_value"] < 1
    assert acc["ci_low"] < acc["estimate"] < acc["ci_high"]
    assert "Hillis (2007) df" in acc["method"]
    methods = doc["methods"]
    for absent in ("McNemar", "Newcombe", "Katz", "Liang", "estimating equations"):
        assert absent not in methods, absent
    cited = " ".join(doc["references"])
    for absent in ("McNemar", "Newcombe", "Katz", "Liang"):
        assert absent not in cited, absent
    assert "Obuchowski" in cited and "Hillis" in cited


def test_counts_print_as_whole_numbers_and_accuracy_has_one_interval(vd_export):
    out, _, doc = vd_export
    ref = {r["item"]: r["value"] for r in doc["tables"]["reference_standard"]}
    assert ref["cases with a reference standard"] == 114
    assert isinstance(ref["cases with a reference standard"], int)
    assert isinstance(ref["reference reads"], int) and ref["reference reads"] == 114
    csv = (out / "trial_reference_standard.csv").read_text()
    assert "cases with a reference standard,114," in csv and "114.0" not in csv
    assert "123.0" not in (out / "trial_endpoint.csv").read_text()
    # the AI's accuracy and its percent agreement with the reference: one count, one interval
    est = pd.DataFrame(doc["tables"]["estimates"])
    ai = est[
        (est.subject == "AI")
        & (est.arm == "(all cases)")
        & (est.dimension == "overall")
        & (est.measure == "accuracy")
    ].iloc[0]
    agree = [
        r
        for r in doc["tables"]["agreement"]
        if r["comparison"].startswith("AI") and r["coefficient"] == "percent agreement"
    ][0]
    assert (agree["estimate"], agree["ci_low"], agree["ci_high"]) == (
        ai["estimate"],
        ai["ci_low"],
        ai["ci_high"],
    )
    assert agree["method"] == ai["method"] == "Wilson score"
    # readers vs the reference: reader-averaged with the OR interval, as their accuracy
    readers = [
        r
        for r in doc["tables"]["agreement"]
        if r["comparison"].startswith("readers vs reference")
        and r["coefficient"] == "percent agreement"
        and r["arm"] == "trt0"
    ][0]
    acc = est[
        (est.subject == "readers")
        & (est.arm == "trt0")
        & (est.dimension == "overall")
        & (est.measure == "accuracy")
    ].iloc[0]
    assert (readers["ci_low"], readers["ci_high"]) == (acc["ci_low"], acc["ci_high"])


def test_an_export_replaces_every_file_of_the_earlier_one(vd_dir, tmp_path):
    """An MRMC export followed by a parallel one into the same folder left trial_mrmc*.csv
    beside the new files: the folder read as one export but mixed two analyses (a QA re-test)."""
    out = tmp_path / "export"
    first = export_trial(vd_dir, out)
    assert out / "trial_mrmc.csv" in first
    (out / "notes.txt").write_text("the committee's own file")
    second = export_trial(vd_dir, out, design="parallel", formats=("csv", "json"))
    assert sorted(p.name for p in out.iterdir()) == sorted([*(p.name for p in second), "notes.txt"])
    assert not (out / "trial_mrmc.csv").exists() and not (out / "trial.xlsx").exists()
    assert json.loads((out / "trial.json").read_text())["design"]["analysed"] == "parallel"
