"""A text date-time with an offset or Z is an instant: with ``time_zone`` set it becomes the site's
wall-clock time, as a Parquet timestamp with time zone does (a QA tester: '2026-10-31T20:00:00Z'
from an AI server that writes UTC was stored as 31 Oct 20:00 in Tokyo, the same instant from
Parquet as 1 Nov 05:00). A time without an offset stays as written, also at a DST change;
without ``time_zone`` an offset is dropped, as before."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, snapshot_rows, write

WRITTEN = {
    "1": "2026-10-31T20:00:00Z",
    "2": "2026-10-31T20:00:00+09:00",
    "3": "2026-10-31T20:00:00-05:00",
    "4": "2026-10-31T20:00:00",
    "5": "2026-10-31 20:00:00.250+0000",
    # ISO 8601's basic format, as DICOM-minded exporters write it
    "6": "20261031T200000Z",
    "7": "20261031T2000-0500",
    "8": "20261031T200000.25 +0900",
}
TOKYO = {
    "1": "2026-11-01 05:00:00",  # November in Tokyo: the month of the study moves too
    "2": "2026-10-31 20:00:00",
    "3": "2026-11-01 10:00:00",
    "4": "2026-10-31 20:00:00",
    "5": "2026-11-01 05:00:00.25",
    "6": "2026-11-01 05:00:00",
    "7": "2026-11-01 10:00:00",
    "8": "2026-10-31 20:00:00.25",
}
AS_WRITTEN = dict.fromkeys(WRITTEN, "2026-10-31 20:00:00") | {
    "5": "2026-10-31 20:00:00.25",
    "8": "2026-10-31 20:00:00.25",
}


def _rows(values: dict[str, str]) -> list[dict[str, object]]:
    return [
        {
            "study_uid": uid,
            "patient_id": f"P{uid}",
            "site": "Osaka",
            "study_datetime": when,
            "modality": "CR",
            "finding": "effusion",
            "model_name": "M",
            "model_version": "1",
            "score": 0.5,
        }
        for uid, when in values.items()
    ]


def _write(path: Path, values: dict[str, str]) -> Path:
    rows = _rows(values)
    if path.suffix == ".csv":
        lines = [",".join(str(v) for v in r.values()) for r in rows]
        return write(path, "\n".join([PRED_HEADER, *lines]))
    if path.suffix == ".jsonl":
        return write(path, "\n".join(json.dumps(r) for r in rows))
    pq.write_table(pa.Table.from_pylist(rows), path)  # study_datetime: a string column
    return path


def _stored(data_dir: Path) -> dict[str, str]:
    rows = snapshot_rows(data_dir, "select study_uid, study_datetime::varchar from studies")
    return dict(rows)


@pytest.mark.parametrize("ext", ["csv", "jsonl", "parquet"])
@pytest.mark.parametrize(("zone", "expected"), [("Asia/Tokyo", TOKYO), (None, AS_WRITTEN)])
def test_offsets_become_the_sites_wall_clock(
    data_dir: Path, tmp_path: Path, ext: str, zone: str | None, expected: dict[str, str]
) -> None:
    if zone:
        (data_dir / "radqa.toml").write_text(f'time_zone = "{zone}"\n')
    [result] = ingest_files(data_dir, "predictions", [_write(tmp_path / f"p.{ext}", WRITTEN)])
    assert (result.status, result.inserted, result.quarantined) == ("committed", len(WRITTEN), 0)
    assert _stored(data_dir) == expected


def test_a_local_time_at_a_dst_change_does_not_move(data_dir: Path, tmp_path: Path) -> None:
    (data_dir / "radqa.toml").write_text('time_zone = "America/New_York"\n')
    written = {
        "1": "2026-03-08T02:30:00",  # does not exist in New York (clocks jump 02:00 -> 03:00)
        "2": "2026-11-01T01:30:00",  # occurs twice (clocks go back 02:00 -> 01:00)
        "3": "2026-11-01T01:30:00-05:00",  # the second 01:30, as an instant
        "4": "2026-11-01T05:30:00Z",  # the first 01:30 (EDT, -04:00), as an instant
    }
    ingest_files(data_dir, "predictions", [_write(tmp_path / "dst.csv", written)])
    assert _stored(data_dir) == {
        "1": "2026-03-08 02:30:00",
        "2": "2026-11-01 01:30:00",
        "3": "2026-11-01 01:30:00",
        "4": "2026-11-01 01:30:00",
    }


def test_the_range_is_checked_on_the_converted_time_and_worded_so(
    data_dir: Path, tmp_path: Path
) -> None:
    """The quarantine reasons type the values again: they convert as the check did, so a time
    that only its conversion takes past 2100 is refused with its reason, and one that the
    conversion brings after 1970-01-01 is not named in a row refused for its score."""
    (data_dir / "radqa.toml").write_text('time_zone = "Asia/Tokyo"\n')
    path = write(
        tmp_path / "edge.csv",
        f"{PRED_HEADER}\n"
        "1,P1,Osaka,2099-12-31T20:00:00Z,CR,effusion,M,1,0.5\n"
        "2,P2,Osaka,1970-01-01T20:00:00-05:00,CR,effusion,M,1,abc\n"
        "3,P3,Osaka,1970-01-01T20:00:00-05:00,CR,effusion,M,1,0.5",
    )
    [result] = ingest_files(data_dir, "predictions", [path])
    assert result.reasons == [
        "edge.csv: row 1: column 'study_datetime' is '2099-12-31T20:00:00Z'; expected an ISO "
        "8601 date or date-time after 1970-01-01 and before 2100, such as 2026-10-03, "
        "2026-10-03T14:20:00 or 20261003",
        "edge.csv: row 2: column 'score' is 'abc'; expected a number between 0 and 1",
    ]
    assert _stored(data_dir) == {"3": "1970-01-02 10:00:00"}


def test_reads_times_convert_too(data_dir: Path, tmp_path: Path) -> None:
    (data_dir / "radqa.toml").write_text('time_zone = "Asia/Seoul"\n')
    path = write(
        tmp_path / "r.csv",
        f"{READ_HEADER}\n1,effusion,R1,1,2026-10-31T16:00:00Z\n2,effusion,R1,0,2026-10-31T16:00",
    )
    ingest_files(data_dir, "reads", [path])
    rows = "select study_uid, read_datetime::varchar from reads order by 1"
    assert snapshot_rows(data_dir, rows) == [
        ("1", "2026-11-01 01:00:00"),
        ("2", "2026-10-31 16:00:00"),
    ]


NAMED = {
    "1": "2026-10-05 10:00 UTC",
    "2": "2026-10-05T10:00:00 America/New_York",
    "3": "2026-10-05 10:00 EST",
    "4": "2026-10-05 10:00 KST",
    "5": "2026-10-05 10:00 PM",
    "6": "2026-10-05 10:00 gmt",
}
ZONE_WORDS = (
    "expected a time zone written as an offset (+09:00), Z, UTC or a name such as Asia/Tokyo "
    "(an abbreviation such as EST or KST is ambiguous)"
)


def test_a_zone_name_after_the_time_is_converted_or_refused(data_dir: Path, tmp_path: Path) -> None:
    """DuckDB's cast to TIMESTAMP drops a word after the time: '10:00 UTC' and '10:00 EST' were
    stored as 10:00 in Tokyo (a tester: 9 to 14 hours off, a study in the wrong month), and
    '10:00 PM' as 10:00. With time_zone set, UTC, GMT and IANA names convert; an abbreviation is
    refused as ambiguous; AM/PM is refused everywhere."""
    (data_dir / "radqa.toml").write_text('time_zone = "Asia/Tokyo"\n')
    [result] = ingest_files(data_dir, "predictions", [_write(tmp_path / "z.csv", NAMED)])
    assert _stored(data_dir) == {
        "1": "2026-10-05 19:00:00",
        "2": "2026-10-05 23:00:00",
        "6": "2026-10-05 19:00:00",
    }
    shown = "column 'study_datetime' is"
    assert result.reasons == [
        f"z.csv: row 3: {shown} '2026-10-05 10:00 EST'; {ZONE_WORDS}",
        f"z.csv: row 4: {shown} '2026-10-05 10:00 KST'; {ZONE_WORDS}",
        f"z.csv: row 5: {shown} '2026-10-05 10:00 PM'; expected a 24-hour time (22:00, not "
        "10:00 PM)",
    ]


def test_without_time_zone_a_zone_name_is_dropped_and_am_pm_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    [result] = ingest_files(data_dir, "predictions", [_write(tmp_path / "n.csv", NAMED)])
    assert _stored(data_dir) == dict.fromkeys(("1", "2", "3", "4", "6"), "2026-10-05 10:00:00")
    assert result.reasons == [
        "n.csv: row 5: column 'study_datetime' is '2026-10-05 10:00 PM'; expected a 24-hour "
        "time (22:00, not 10:00 PM)"
    ]
