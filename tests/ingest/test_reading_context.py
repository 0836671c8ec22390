"""A file is known by its bytes and by what decides the rows they give: the declared encoding,
the time zone and the operating points. Read again with other ones, it replaces what its earlier
reading gave."""

from __future__ import annotations

from pathlib import Path

from ingest.load import ingest_files
from radqa.settings import Settings
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, snapshot_rows, write

KOREAN = ("\uacb0\uc808", "\ud3d0\ub834")  # 결절 (nodule), 폐렴 (pneumonia)


def _korean_predictions(path: Path) -> Path:
    rows = [f"k{i},P{i},SNUH,2026-10-01,CR,{f},M,1,0.5" for i, f in enumerate(KOREAN)]
    path.write_bytes(("\n".join([PRED_HEADER, *rows]) + "\n").encode("cp949"))
    return path


def test_a_file_read_in_the_wrong_encoding_is_replaced_by_its_right_reading(
    data_dir: Path, tmp_path: Path
) -> None:
    """A QA tester loaded a cp949 file with --encoding cp932 (the refusal's hint names both when
    the bytes fit both); loading it again with cp949 said 'already loaded' and kept the garbled
    findings."""
    path = _korean_predictions(tmp_path / "kr.csv")
    [wrong] = ingest_files(data_dir, "predictions", [path], encoding="cp932")
    assert (wrong.status, wrong.inserted) == ("committed", 2)
    garbled = {f for (f,) in snapshot_rows(data_dir, "select finding from predictions")}
    assert garbled.isdisjoint(KOREAN)

    [right] = ingest_files(data_dir, "predictions", [path], encoding="cp949")
    assert (right.status, right.inserted, right.removed) == ("committed", 2, 2)
    assert right.message.endswith(
        "; 2 row(s) that an earlier reading of the same file gave (other --encoding, time zone "
        "or operating points) and this one does not were removed"
    )
    rows = snapshot_rows(data_dir, "select finding, batch_id from predictions order by 1")
    assert rows == sorted((f, right.batch_id) for f in KOREAN)

    [again] = ingest_files(data_dir, "predictions", [path], encoding="CP949")
    assert again.status == "unchanged"
    [back] = ingest_files(data_dir, "predictions", [path], encoding="cp932")
    assert (back.status, back.removed) == ("committed", 2)  # the garbled reading, asked for again


def test_an_operating_point_set_later_applies_when_the_file_is_loaded_again(
    data_dir: Path, tmp_path: Path
) -> None:
    path = write(tmp_path / "p.csv", f"{PRED_HEADER}\n1,P1,Osaka,2026-10-01,CR,ptx,M,1,0.4")
    [first] = ingest_files(data_dir, "predictions", [path])
    set_point = Settings(data_dir=data_dir, operating_points={"M/ptx": 0.35})
    [second] = ingest_files(data_dir, "predictions", [path], settings=set_point)
    assert (first.status, second.status) == ("committed", "committed")
    assert (second.replaced, second.removed) == (1, 0)
    assert snapshot_rows(data_dir, "select threshold, predicted from predictions") == [(0.35, True)]
    [third] = ingest_files(data_dir, "predictions", [path], settings=set_point)
    assert third.status == "unchanged"


def test_reads_of_an_earlier_reading_leave_the_reference_standard_too(
    data_dir: Path, tmp_path: Path
) -> None:
    rows = [f"s{i},{f},R1,1,2026-10-02" for i, f in enumerate(KOREAN)]
    path = tmp_path / "reads.csv"
    path.write_bytes(("\n".join([READ_HEADER, *rows]) + "\n").encode("cp949"))
    ingest_files(data_dir, "reads", [path], encoding="cp932")
    [right] = ingest_files(data_dir, "reads", [path], encoding="cp949")
    assert (right.inserted, right.removed) == (2, 2)
    for table in ("reads", "reference_standard"):
        found = snapshot_rows(data_dir, f"select finding from {table} order by 1")
        assert found == sorted((f,) for f in KOREAN), table


def test_reading_a_file_again_loses_nothing_that_later_files_give_or_changed(
    data_dir: Path, tmp_path: Path
) -> None:
    """A QA tester's two faults: another file gave the same rows (they matched the first
    reading's rows and kept its batch), and the re-read removed them for good; a file loaded
    after the first reading corrected a row, and the re-read put the old value back."""
    rows = [f"k{i},P{i},SNUH,2026-10-01,CR,{f},M,1,0.2" for i, f in enumerate(KOREAN)]
    korean = tmp_path / "kr.csv"
    korean.write_bytes(("\n".join([PRED_HEADER, *rows]) + "\n").encode("cp949"))
    same_in_utf8 = write(tmp_path / "utf8.csv", "\n".join([PRED_HEADER, *rows]))
    [first] = ingest_files(data_dir, "predictions", [korean], encoding="cp949")
    [other] = ingest_files(data_dir, "predictions", [same_in_utf8])
    assert (first.inserted, other.unchanged) == (2, 2)
    [garbled] = ingest_files(data_dir, "predictions", [korean], encoding="euc-jp")
    assert (garbled.inserted, garbled.removed, garbled.kept) == (2, 0, 2)
    assert garbled.message.endswith(
        f"; 2 row(s) of the earlier reading of this file (batch {first.batch_id}) were kept as "
        "they are: files loaded since changed them or may give them too"
    )
    findings = {f for (f,) in snapshot_rows(data_dir, "select finding from predictions")}
    assert set(KOREAN) <= findings and len(findings) == 4

    # a correction loaded after a reading survives the file's next reading
    data2 = tmp_path / "d2"
    mixed = [
        f"s1,P1,SNUH,2026-10-01,CR,{KOREAN[0]},M,1,0.2",
        "s2,P2,SNUH,2026-10-01,CR,ptx,M,1,0.2",
    ]
    path = tmp_path / "mixed.csv"
    path.write_bytes(("\n".join([PRED_HEADER, *mixed]) + "\n").encode("cp949"))
    ingest_files(data2, "predictions", [path], encoding="euc-jp")
    fix = write(tmp_path / "fix.csv", f"{PRED_HEADER}\ns2,P2,SNUH,2026-10-01,CR,ptx,M,1,0.9")
    [fixed] = ingest_files(data2, "predictions", [fix])
    assert fixed.replaced == 1
    [right] = ingest_files(data2, "predictions", [path], encoding="cp949")
    assert (right.inserted, right.replaced, right.kept) == (1, 0, 2)  # s2 kept; garbled s1 kept
    assert snapshot_rows(data2, "select score from predictions where study_uid = 's2'") == [(0.9,)]


def test_the_earlier_readings_quarantined_rows_give_way_to_this_readings(
    data_dir: Path, tmp_path: Path
) -> None:
    rows = [
        f"k0,P0,SNUH,2026-10-01,CR,{KOREAN[0]},M,1,0.5",
        f"k1,P1,SNUH,2026-10-01,CR,{KOREAN[1]},M,1,abc",
    ]
    path = tmp_path / "kr.csv"
    path.write_bytes(("\n".join([PRED_HEADER, *rows]) + "\n").encode("cp949"))
    [wrong] = ingest_files(data_dir, "predictions", [path], encoding="cp932")
    [right] = ingest_files(data_dir, "predictions", [path], encoding="cp949")
    assert (wrong.quarantined, right.quarantined) == (1, 1)
    rows_in_quarantine = snapshot_rows(data_dir, "select batch_id, row_number from quarantine")
    assert rows_in_quarantine == [(right.batch_id, 2)]


def test_a_correction_survives_every_later_reading_of_the_older_file(
    data_dir: Path, tmp_path: Path
) -> None:
    """p.csv, then fix.csv correcting one of its rows, then p.csv read again with two other
    operating points in turn: the correction stays each time (the second reading compared
    rows with the first reading only and replaced the correction, found by a tester)."""
    path = write(
        tmp_path / "p.csv",
        f"{PRED_HEADER}\n1,P1,Osaka,2026-10-01,CR,ptx,M,1,0.31\n2,P2,Osaka,2026-10-01,CR,ptx,M,1,0.2",
    )
    fix = write(tmp_path / "fix.csv", f"{PRED_HEADER}\n1,P1,Osaka,2026-10-01,CR,ptx,M,1,0.45")
    ingest_files(data_dir, "predictions", [path])
    [fixed] = ingest_files(data_dir, "predictions", [fix])
    for point in (0.30, 0.25):
        settings = Settings(data_dir=data_dir, operating_points={"M/ptx": point})
        [again] = ingest_files(data_dir, "predictions", [path], settings=settings)
        assert (again.status, again.kept, again.replaced) == ("committed", 1, 1)
        assert snapshot_rows(
            data_dir, "select study_uid, score, threshold, batch_id from predictions order by 1"
        ) == [("1", 0.45, 0.5, fixed.batch_id), ("2", 0.2, point, again.batch_id)]
