"""Files in the encodings Japanese and Korean Windows write: loaded when declared, named when not."""

from __future__ import annotations

import gzip
import json
import os
import stat
from pathlib import Path

import duckdb
import pytest

from ingest.encodings import decoded
from ingest.load import ingest_files
from radqa import store
from radqa.cli import main
from tests.ingest.conftest import PRED_HEADER, snapshot_rows

OSAKA = "\u5927\u962a\u5927\u5b66\u75c5\u9662"  # 大阪大学病院
CANON = "\u30ad\u30e4\u30ce\u30f3"  # キヤノン
SEOUL = "\uc11c\uc6b8\ub300\ud559\uad50\ubcd1\uc6d0"  # 서울대학교병원
NOTE = "\u5099\u8003"  # 備考, "remarks": a column beyond the contract


def rows_text(
    site: str, first: int = 1, n: int = 2, note: str = "\u518d\u691c", maker: str = CANON
) -> str:
    lines = [f"{PRED_HEADER},scanner_manufacturer,{NOTE}"]
    lines += [
        f"1.2.{i},P{i},{site},2026-10-01,CR,pneumothorax,M,1,0.{i},{maker},{note}"
        for i in range(first, first + n)
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def temp_dir(data_dir: Path) -> Path:
    """The writer's scratch folder, where decoded copies go: none must be left after a batch."""
    return store.scratch_dir(data_dir)


def copies(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith("radqa_")]


def test_windows_code_page_files_load_when_their_encoding_is_given(
    data_dir: Path, tmp_path: Path, temp_dir: Path
) -> None:
    (tmp_path / "osaka.csv").write_bytes(rows_text(OSAKA).encode("cp932"))
    with gzip.open(tmp_path / "seoul.csv.gz", "wb") as fh:
        fh.write(rows_text(SEOUL, first=3, note="\uc7ac\uac80").encode("cp949"))
    jsonl = [
        {**dict.fromkeys(PRED_HEADER.split(","), "x"), "study_uid": "9", "patient_id": "P9",
         "site": OSAKA, "study_datetime": "2026-10-02", "modality": "CT", "score": "0.5"}
    ]  # fmt: skip
    (tmp_path / "o.jsonl").write_bytes(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in jsonl).encode("cp932")
    )
    [osaka] = ingest_files(data_dir, "predictions", [tmp_path / "osaka.csv"], encoding="cp932")
    [seoul] = ingest_files(data_dir, "predictions", [tmp_path / "seoul.csv.gz"], encoding="CP949")
    [lines] = ingest_files(data_dir, "predictions", [tmp_path / "o.jsonl"], encoding="shift_jis")
    # a UTF-8 file sent with the others: its bytes are all UTF-8, so it is read as UTF-8
    (tmp_path / "utf8.csv").write_text(rows_text(OSAKA, first=7, n=1), "utf-8")
    [utf8] = ingest_files(data_dir, "predictions", [tmp_path / "utf8.csv"], encoding="cp932")
    assert [(r.status, r.inserted) for r in (osaka, seoul, lines, utf8)] == [
        ("committed", 2),
        ("committed", 2),
        ("committed", 1),
        ("committed", 1),
    ]
    rows = snapshot_rows(
        data_dir,
        "select s.study_uid, site, scanner_manufacturer, extra from studies s "
        "join predictions using (study_uid) order by 1",
    )
    assert [r[:3] for r in rows] == [
        ("1.2.1", OSAKA, CANON),
        ("1.2.2", OSAKA, CANON),
        ("1.2.3", SEOUL, CANON),
        ("1.2.4", SEOUL, CANON),
        ("1.2.7", OSAKA, CANON),
        ("9", OSAKA, None),
    ]
    assert json.loads(rows[0][3]) == {NOTE: "\u518d\u691c"}  # the column name is decoded too
    assert json.loads(rows[2][3]) == {NOTE: "\uc7ac\uac80"}
    assert copies(temp_dir) == []  # each decoded copy was removed


def test_latin1_is_read_by_duckdb_itself_and_parquet_ignores_the_encoding(
    data_dir: Path, tmp_path: Path, temp_dir: Path
) -> None:
    row = "1,P1,K\u00f6ln,2026-10-01,CR,f,M,1,0.5"
    (tmp_path / "k.csv").write_bytes(f"{PRED_HEADER}\n{row}\n".encode("latin-1"))
    duckdb.execute(
        f"copy (select '2' as study_uid, 'P2' as patient_id, '{OSAKA}' as site, "
        "'2026-10-01' as study_datetime, 'CR' as modality, 'f' as finding, 'M' as model_name, "
        f"'1' as model_version, 0.5 as score) to '{tmp_path}/p.parquet'"
    )
    results = ingest_files(
        data_dir, "predictions", [tmp_path / "k.csv", tmp_path / "p.parquet"], encoding="latin-1"
    )
    assert [(r.status, r.inserted) for r in results] == [("committed", 1)] * 2
    assert snapshot_rows(data_dir, "select site from studies order by study_uid") == [
        ("K\u00f6ln",),
        (OSAKA,),
    ]
    assert copies(temp_dir) == []  # no copy: DuckDB reads Latin-1


@pytest.mark.parametrize(
    ("encoding", "site", "note", "hint"),
    [
        ("cp932", OSAKA, "\u518d\u691c", "they read as Japanese text in cp932 (Shift-JIS, as Japanese Windows "
         "and Excel write it): load it with --encoding cp932, or save it as UTF-8"),
        ("cp949", SEOUL, "\uc7ac\uac80", "they read as Korean text in cp949 (EUC-KR, as Korean Windows and "
         "Excel write it): load it with --encoding cp949, or save it as UTF-8"),
        ("cp1252", "Cr\u00e9teil", "\u00e0 revoir", "they read as Western European text in cp1252 (as Windows "
         "writes it): load it with --encoding cp1252, or save it as UTF-8"),
    ],
)  # fmt: skip
def test_a_file_not_in_utf8_is_refused_with_the_encoding_its_bytes_read_as(
    data_dir: Path, tmp_path: Path, encoding: str, site: str, note: str, hint: str
) -> None:
    # 30,000 rows in UTF-8 first: the guess reads the bytes where UTF-8 fails, not the start
    start = rows_text("Osaka", n=30_000)
    maker = CANON if encoding != "cp1252" else "Siemens"
    later = rows_text(site, first=30_001, note=note, maker=maker).split("\n", 1)[1]
    (tmp_path / "p.csv").write_bytes(start.encode() + later.encode(encoding))
    [result] = ingest_files(data_dir, "predictions", [tmp_path / "p.csv"])
    assert result.status == "refused"
    assert result.message == (
        "p.csv: cannot be read as CSV: near line 30002: the bytes are not valid UTF-8 text; " + hint
    )


def test_bytes_that_name_no_known_encoding_get_the_general_advice(
    data_dir: Path, tmp_path: Path
) -> None:
    row = "1,P1,Osaka,2026-10-01,CR,f,M,1,0.5,\x81\x81\x81"
    (tmp_path / "p.csv").write_bytes(f"{PRED_HEADER},note\n{row}\n".encode("latin-1"))
    [result] = ingest_files(data_dir, "predictions", [tmp_path / "p.csv"])
    assert result.message.endswith(
        "the bytes are not valid UTF-8 text; give its encoding with --encoding (cp932 for "
        "Japanese Windows, cp949 for Korean Windows, cp1252 for Western European Windows) or "
        "save it as UTF-8"
    )


def test_bytes_not_in_the_declared_encoding_are_refused_naming_the_line(
    data_dir: Path, tmp_path: Path, temp_dir: Path
) -> None:
    lines = rows_text(OSAKA, n=3).encode("cp932").split(b"\n")
    lines[3] += b"\x82"  # line 4 ends in the first byte of a two-byte character
    (tmp_path / "p.csv").write_bytes(b"\n".join(lines))
    (tmp_path / "cut.csv").write_bytes(b"\n".join(lines[:3]) + b"\n\x82")  # ends mid-character
    (tmp_path / "p.csv.zst").write_bytes(b"(\xb5/\xfd")
    names = ["p.csv", "cut.csv", "p.csv.zst"]
    results = ingest_files(data_dir, "predictions", [tmp_path / n for n in names], encoding="cp932")
    assert [r.message for r in results] == [
        "p.csv: cannot be read as CSV: near line 4: the bytes are not valid cp932 text",
        "cut.csv: cannot be read as CSV: near line 4: the file ends inside a cp932 character",
        "p.csv.zst: a zstd-compressed file is read only in UTF-8, UTF-16 or Latin-1; "
        "decompress it (zstd -d) or save it as UTF-8",
    ]
    assert snapshot_rows(data_dir, "select count(*) from predictions") == [(0,)]
    assert copies(temp_dir) == []  # removed after a refusal too


@pytest.mark.parametrize("name", ["sjis-ish", "base64"])  # base64: a codec, not a text encoding
def test_an_unknown_encoding_is_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    data = tmp_path / "data"
    (tmp_path / "p.csv").write_text(rows_text("Osaka"))
    code = main(
        ["ingest", "predictions", "--data-dir", str(data), "--encoding", name,
         str(tmp_path / "p.csv")]
    )  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"radqa: error: unknown encoding '{name}'; expected the name of a text encoding such "
        "as cp932 (Japanese Windows), cp949 (Korean Windows), cp1252 or utf-8"
    )
    assert not data.exists() or list(data.iterdir()) == []


def zstd_frame(data: bytes) -> bytes:
    """``data`` as one zstd frame of one raw (stored) block (RFC 8878 3.1.1): a .zst file in the
    bytes we choose, where DuckDB's COPY would write UTF-8 and Python has no zstd module."""
    assert len(data) < 256
    header = bytes([0x20, len(data)])  # single segment, 1-byte content size
    block = (len(data) << 3 | 1).to_bytes(3, "little")  # last block, raw
    return b"\x28\xb5\x2f\xfd" + header + block + data


def test_a_zstd_file_declared_latin1_is_read_by_duckdb(data_dir: Path, tmp_path: Path) -> None:
    row = "1,P1,K\u00f6ln,2026-10-01,CR,f,M,1,0.5"
    (tmp_path / "k.csv.zst").write_bytes(zstd_frame(f"{PRED_HEADER}\n{row}\n".encode("latin-1")))
    [result] = ingest_files(data_dir, "predictions", [tmp_path / "k.csv.zst"], encoding="latin-1")
    assert (result.status, result.inserted) == ("committed", 1)
    assert snapshot_rows(data_dir, "select site from studies") == [("K\u00f6ln",)]


def test_the_decoded_copy_is_private_to_the_writer_and_removed(tmp_path: Path) -> None:
    source = tmp_path / "osaka.csv"
    source.write_bytes(rows_text(OSAKA).encode("cp932"))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with decoded(source, "csv", "cp932", scratch) as (copy, encoding):
        assert (copy.parent, encoding) == (scratch, "utf-8")
        assert copy.name.startswith(f"radqa_{os.getpid()}_")  # whose it is, for a later writer
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        assert copy.read_text("utf-8") == rows_text(OSAKA)
    assert list(scratch.iterdir()) == []


def test_half_width_katakana_read_as_either_language_and_both_are_named(
    data_dir: Path, tmp_path: Path
) -> None:
    # ｵｵｻｶ (Osaka in half-width katakana, as older Japanese systems write names) is, byte for
    # byte, the Hangul 도뻑 in EUC-KR: guessing one would load the wrong letters
    text = rows_text("\uff75\uff75\uff7b\uff76", note="\uff7e\uff9d\uff80\uff70", maker="Canon")
    text = text.replace(NOTE, "ward")  # an ASCII header: only the values tell the language
    (tmp_path / "p.csv").write_bytes(text.encode("cp932"))
    [result] = ingest_files(data_dir, "predictions", [tmp_path / "p.csv"])
    assert result.message == (
        "p.csv: cannot be read as CSV: near line 2: the bytes are not valid UTF-8 text; they read "
        "as Korean text in cp949 (EUC-KR, as Korean Windows and Excel write it) or as Japanese "
        "text in cp932 (Shift-JIS, as Japanese Windows and Excel write it): load it with "
        "--encoding cp949 or --encoding cp932, whichever shows its text right, or save it as UTF-8"
    )
