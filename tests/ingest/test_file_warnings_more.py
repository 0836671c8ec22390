"""More warnings in a batch message (ingest/file_warnings.py), rows kept as sent: what the rows
without a threshold took (radqa.toml's operating point, with its value, or 0.5; the old message
said 'the operating point (or 0.5)' without saying which), and a model_version in scientific
notation (``2.1E+00``, as Excel writes 2.1 to a CSV file from a cell formatted so), which loaded
silently as a version of its own; a reads file whose ratings are on two scales (some readers 1-5,
others 0-100), which loaded silently and would mix in the ROC and reader-study statistics."""

from __future__ import annotations

from pathlib import Path

from ingest.load import ingest_files
from radqa.settings import Settings
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, snapshot_rows, write


def _preds(path: Path, rows: list[str], extra: str = ",threshold") -> Path:
    return write(path, "\n".join([PRED_HEADER + extra, *rows]))


def test_rows_without_a_threshold_say_they_take_0_5(data_dir: Path, tmp_path: Path) -> None:
    # the brief's hospital file: 1,204 rows without a threshold, 8,801 with, no operating point
    row = "{i},P{i},Osaka,2026-10-01,CR,pneumothorax,chexnet,2.1,0.6,{t}"
    rows = [row.format(i=i, t="" if i < 1204 else "0.4") for i in range(1204 + 8801)]
    [result] = ingest_files(data_dir, "predictions", [_preds(tmp_path / "p.csv", rows)])
    assert result.message == (
        "p.csv: 10005 accepted (10005 new, 0 replaced, 0 unchanged), 0 quarantined; 1,204 rows "
        "give no threshold and take 0.5 (no operating point set for chexnet/pneumothorax), while "
        "8,801 rows give their own"
    )
    stored = snapshot_rows(
        data_dir, "select threshold_source, threshold, count(*) from predictions group by all "
        "order by 1"
    )  # fmt: skip
    assert stored == [("default", 0.5, 1204), ("file", 0.4, 8801)]


def test_an_operating_point_and_0_5_are_told_apart(data_dir: Path, tmp_path: Path) -> None:
    rows = [
        "1.1,P1,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.4,,0",  # the file's call; 0.35 for reference
        "1.2,P2,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.4,,",  # 0.35 makes the call
        "1.3,P3,Osaka,2026-10-01,CR,effusion,CXR,2.1,0.4,,",  # no operating point: 0.5
        "1.4,P4,Osaka,2026-10-01,CR,effusion,CXR,2.1,0.4,0.3,",
    ]
    settings = Settings(data_dir=data_dir, operating_points={"CXR/ptx": 0.35})
    path = _preds(tmp_path / "m.csv", rows, ",threshold,predicted")
    [result] = ingest_files(data_dir, "predictions", [path], settings=settings)
    assert result.message.endswith(
        "0 quarantined; 3 rows give no threshold (1 with a predicted call of their own): 2 take "
        "0.35 (radqa.toml's operating point for CXR/ptx) and 1 takes 0.5 (no operating point set "
        "for CXR/effusion), while 1 row gives its own"
    ), result.message
    stored = snapshot_rows(
        data_dir, "select study_uid, threshold, threshold_source from predictions order by 1"
    )
    assert stored == [("1.1", 0.35, "predicted"), ("1.2", 0.35, "configured"),
                      ("1.3", 0.5, "default"), ("1.4", 0.3, "file")]  # fmt: skip
    # one row without a threshold, which takes the operating point
    one = _preds(
        tmp_path / "one.csv",
        [
            "2.1,P5,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.4,",
            "2.2,P6,Osaka,2026-10-01,CR,ptx,CXR,2.1,0.4,0.3",
        ],
    )
    [result] = ingest_files(data_dir, "predictions", [one], settings=settings)
    assert result.message.endswith(
        "; 1 row gives no threshold and takes 0.35 (radqa.toml's operating point for CXR/ptx), "
        "while 1 row gives its own"
    ), result.message


def test_many_pairs_are_summarised(data_dir: Path, tmp_path: Path) -> None:
    findings = ["a", "b", "c", "d", "e"]
    rows = [
        f"{i}.{j},P{i}{j},Osaka,2026-10-01,CR,{f},M,1,0.4,"
        for i, f in enumerate(findings)
        for j in range(5 - i)  # a: 5 rows, ... e: 1 row
    ]
    rows.append("9.1,P91,Osaka,2026-10-01,CR,a,M,1,0.4,0.2")
    [result] = ingest_files(data_dir, "predictions", [_preds(tmp_path / "s.csv", rows)])
    assert result.message.endswith(
        "; 15 rows give no threshold and take 0.5 (no operating point set for M/a, M/b and 3 "
        "more model_name/finding pairs), while 1 row gives its own"
    ), result.message
    # operating points: several values, named while few, then their range
    from ingest.file_warnings import _taken  # (imported here: the old module had none)

    points = {f"M/{f}": 0.1 * (i + 1) for i, f in enumerate(findings)}
    groups = [("M", f, 5 - i, 0) for i, f in enumerate(findings)]
    assert _taken(groups[:2], points) == (
        " and take radqa.toml's operating points (0.1 for M/a, 0.2 for M/b)"
    )
    assert _taken(groups, points) == (
        " and take radqa.toml's operating points (0.1 to 0.5 for 5 model_name/finding pairs)"
    )
    assert _taken([*groups[:2], ("N", "x", 1204, 0)], {"M/a": 0.3, "M/b": 0.3}) == (
        ": 9 take 0.3 (radqa.toml's operating point for M/a and M/b) and 1,204 take 0.5 (no "
        "operating point set for N/x)"
    )


def test_a_version_in_scientific_notation_is_named(data_dir: Path, tmp_path: Path) -> None:
    row = "{i},P{i},Osaka,2026-10-01,CR,ptx,CXR,{v},0.6"
    versions = ["2.1E+00"] * 3 + ["2.1"]
    rows = [row.format(i=i, v=v) for i, v in enumerate(versions)]
    path = write(tmp_path / "x.csv", "\n".join([PRED_HEADER, *rows]))
    [result] = ingest_files(data_dir, "predictions", [path])
    assert result.message == (
        "x.csv: 4 accepted (4 new, 0 replaced, 0 unchanged), 0 quarantined; model_version is in "
        "scientific notation in 3 rows of x.csv (2.1E+00, likely '2.1'), as Excel shows a "
        "number: stored as written; format the column as text before saving"
    )
    stored = snapshot_rows(
        data_dir, "select model_version, count(*) from predictions group by 1 order by 1"
    )
    assert stored == [("2.1", 1), ("2.1E+00", 3)]  # kept as sent
    # several, in lower case (R) and with a negative exponent, most rows first; one row
    versions = ["1.00E+01", "3.0e+00", "3.0e+00", "1.2E-01", "5.5E+00", "2.10"]
    rows = [row.format(i=10 + i, v=v) for i, v in enumerate(versions)]
    many = write(tmp_path / "y.csv", "\n".join([PRED_HEADER, *rows]))
    one = write(tmp_path / "z.csv", f"{PRED_HEADER}\n{row.format(i=20, v='1.00E+01')}")
    [result, single] = ingest_files(data_dir, "predictions", [many, one], publish=False)
    assert result.message.endswith(
        "; model_version is in scientific notation in 5 rows of y.csv (3.0e+00 in 2, likely "
        "'3'; 1.00E+01 in 1, likely '10'; 1.2E-01 in 1, likely '0.12'; and 1 more), as Excel "
        "shows a number: stored as written; format the column as text before saving"
    ), result.message
    assert single.message.endswith(
        "; model_version is in scientific notation in 1 row of z.csv (1.00E+01, likely '10'), "
        "as Excel shows a number: stored as written; format the column as text before saving"
    ), single.message


def test_versions_that_only_look_alike_are_not_named(data_dir: Path, tmp_path: Path) -> None:
    # a short commit hash of digits and one e, a version with an e, no sign after the E
    versions = ["1234e56", "3e4", "2.1-beta", "v2.1E+00", "2.1E00", "e+00"]
    rows = [f"{i},P{i},Osaka,2026-10-01,CR,ptx,CXR,{v},0.6" for i, v in enumerate(versions)]
    path = write(tmp_path / "h.csv", "\n".join([PRED_HEADER, *rows]))
    [result] = ingest_files(data_dir, "predictions", [path], publish=False)
    assert result.message == "h.csv: 6 accepted (6 new, 0 replaced, 0 unchanged), 0 quarantined"


SCALES_NOTE = (
    "; ratings look like two scales: 3 readers rate from 1 to 5, 2 readers rate from 0 to 100; "
    "ROC and reader-study statistics would mix them (kept as sent): put every reader's ratings "
    "on one scale and send the file again"
)


def _reads(path: Path, ratings: dict[str, list[str]]) -> Path:
    """A reads file: each reader reads studies 1.0, 1.1, ... with the ratings given."""
    rows = [
        f"1.{i},ptx,{reader},{float(rating or 0) > 2},2026-10-02T09:00,{rating}"
        for reader, given in ratings.items()
        for i, rating in enumerate(given)
    ]
    return write(path, "\n".join([f"{READ_HEADER},rating", *rows]))


def test_ratings_on_two_scales_are_named(data_dir: Path, tmp_path: Path) -> None:
    studies = [f"1.{i},P{i},Osaka,2026-10-01,CR,ptx,CXR,2.1,0.6" for i in range(4)]
    preds = write(tmp_path / "p.csv", "\n".join([PRED_HEADER, *studies]))
    ratings = {
        "DR-SATO-0001": ["1", "5", "3"],
        "DR-ITO-0002": ["2", "4", ""],
        "DR-KATO-0003": ["5", "5", "5", "2"],
        "DR-MORI-0004": ["0", "75", "100"],
        "DR-ABE-0005": ["10", "90"],
        "DR-UENO-0006": ["", ""],  # no rating: not counted
    }
    path = _reads(tmp_path / "r.csv", ratings)
    # a quarantined row's rating is not counted (its label is not 0/1)
    path.write_text(path.read_text() + "1.3,ptx,DR-SATO-0001,maybe,2026-10-02T09:00,1000\n")
    ingest_files(data_dir, "predictions", [preds])  # the studies are known
    [result] = ingest_files(data_dir, "reads", [path])
    assert result.message == (
        f"r.csv: 17 accepted (17 new, 0 replaced, 0 unchanged), 1 quarantined{SCALES_NOTE}"
    )
    assert "DR-" not in result.message  # readers are counted, not named
    stored = snapshot_rows(data_dir, "select min(rating), max(rating), count(rating) from reads")
    assert stored == [(0.0, 100.0, 14)]  # kept as sent


def test_which_ratings_are_taken_for_two_scales(data_dir: Path, tmp_path: Path) -> None:
    files = {
        "five.csv": {"A-0001": ["1", "5"], "B-0002": ["2", "3"]},  # 1-5, one reader below 5
        # 0-100, but one reader's ratings all stay at 10 or below: taken for a small scale (the
        # message gives both ranges, for its reader to judge)
        "hundred.csv": {"A-0001": ["0", "100"], "B-0002": ["5", "8"]},
        "one.csv": {"A-0001": ["1", "5", "50"]},  # one reader: no second scale to compare with
        "none.csv": {"A-0001": ["", ""], "B-0002": ["", ""]},
    }
    paths = [_reads(tmp_path / name, ratings) for name, ratings in files.items()]
    results = ingest_files(data_dir, "reads", paths, publish=False)
    assert ["two scales" in r.message for r in results] == [False, True, False, False]
    # 0-10 against 0-100; a rating with decimals
    mixed = _reads(tmp_path / "ten.csv", {"A-0001": ["0", "10"], "B-0002": ["2.5", "97.5"]})
    [result] = ingest_files(data_dir, "reads", [mixed], publish=False)
    assert (
        "; ratings look like two scales: 1 reader rates from 0 to 10, 1 reader rates from 2.5 "
        "to 97.5; " in result.message
    ), result.message
