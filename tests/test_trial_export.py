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
from metrics import diagnostic_accuracy, difference_ci, roc_auc
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


def test_vandyke_reader_estimates_are_the_metrics_numbers(vd_export, vandyke):
    _, _, doc = vd_export
    est = pd.DataFrame(doc["tables"]["estimates"])
    two = pd.DataFrame(doc["tables"]["two_by_two"])
    for trt in (0, 1):
        d = vandyke[vandyke["treatment"] == trt]
        pos = (d["rating"] >= 3).to_numpy()
        truth = d["truth"].to_numpy() == 1
        tp, fp = int((pos & truth).sum()), int((pos & ~truth).sum())
        fn, tn = int((~pos & truth).sum()), int((~pos & ~truth).sum())
        row = two[
            (two.subject == "readers") & (two.arm == f"trt{trt}") & (two.dimension == "overall")
        ]
        assert row[["tp", "fp", "fn", "tn"]].iloc[0].tolist() == [tp, fp, fn, tn]
        expected = diagnostic_accuracy(tp, fp, fn, tn)
        mine = est[
            (est.subject == "readers") & (est.arm == f"trt{trt}") & (est.dimension == "overall")
        ]
        got = mine.set_index("measure")
        for name in ("sensitivity", "specificity", "ppv", "npv", "lr_positive", "lr_negative"):
            e = getattr(expected, name)
            assert got.loc[name, "estimate"] == pytest.approx(e.value, rel=1e-12)
            assert got.loc[name, "ci_low"] == pytest.approx(e.low, rel=1e-12)
            assert got.loc[name, "ci_high"] == pytest.approx(e.high, rel=1e-12)
        auc = roc_auc(d["truth"], d["rating"])
        assert got.loc["auc", "estimate"] == pytest.approx(auc.value, rel=1e-12)
        assert got.loc["auc", "ci_low"] == pytest.approx(auc.low, rel=1e-12)
        assert "DeLong" in got.loc["auc", "method"]
        assert got.loc["sensitivity", "method"] == "Wilson score"


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


def test_explicit_paired_design_on_vandyke(vd_dir, vandyke, tmp_path):
    export_trial(vd_dir, tmp_path, design="paired", formats=("json",))
    doc = json.loads((tmp_path / "trial.json").read_text())
    assert doc["design"]["analysed"] == "paired"
    rows = {r["outcome"]: r for r in doc["tables"]["paired"]}
    wide = vandyke.pivot_table(index=["reader", "case"], columns="treatment", values="rating")
    truth = vandyke.drop_duplicates("case").set_index("case")["truth"]
    ok0 = (wide[0] >= 3).to_numpy() == (
        truth.loc[wide.index.get_level_values("case")] == 1
    ).to_numpy()
    ok1 = (wide[1] >= 3).to_numpy() == (
        truth.loc[wide.index.get_level_values("case")] == 1
    ).to_numpy()
    acc = rows["correct read (accuracy)"]
    assert (acc["both"], acc["a_only"], acc["b_only"], acc["neither"]) == (
        int((ok0 & ok1).sum()),
        int((ok0 & ~ok1).sum()),
        int((~ok0 & ok1).sum()),
        int((~ok0 & ~ok1).sum()),
    )
    assert acc["test"] == "McNemar chi-square"


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
    assert endpoint["endpoint"].str.startswith("missed findings rate").all()


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
