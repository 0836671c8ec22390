"""CSV files whose lines end in both CRLF and LF (exports joined into one file, LF lines
appended to a Windows file, a hand edit) load as the same file with one line ending would: the
same rows stored, no value with a stray CR, the same row numbers in quarantine, the same
refusals of what is malformed. DuckDB refused them whole ("its layout is not recognisable as
CSV"); they are read from a copy whose lines all end in LF, not with DuckDB's strict mode off,
which would drop the extra fields of a row silently. The expected row numbers are counted here
from the lines written (a spreadsheet's: the line after the header is row 1, empty lines count)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ingest.load import ingest_files
from radqa import store
from tests.ingest.conftest import PRED_HEADER, files_holding, snapshot_rows

OSAKA = "\u5927\u962a\u5927\u5b66\u75c5\u9662"  # 大阪大学病院: a letter cp932 encodes
HEADER = PRED_HEADER + ",protocol"  # a text column last: a stray CR would end up in it


def row(i: int, score: str = "0.5", site: str = "Osaka") -> str:
    return f"1.2.{i},PAT-{i}-MIX,{site},2026-10-01 10:00:00,CR,nodule,M,1,{score},CHEST-PA"


def lines_of(site: str = "Osaka") -> list[str]:
    return [
        HEADER, row(1, site=site), row(2, site=site), "", row(3, "abc", site), row(4, site=site),
        row(5, "abc", site),
    ]  # fmt: skip


def joined(lines: list[str], endings: list[str]) -> str:
    """The lines, each ended by its ending (the last one's repeats for the lines after)."""
    ends = endings + [endings[-1]] * (len(lines) - len(endings))
    return "".join(line + end for line, end in zip(lines, ends, strict=False))


# each line's ending, from the header on
LAYOUTS = {
    # a CRLF file with one empty line ended by LF alone
    "crlf_with_a_bare_lf_empty_line": ["\r\n"] * 3 + ["\n"] + ["\r\n"],
    # LF lines appended to a CRLF file (the header's block is Windows', the rest Unix's)
    "lf_lines_appended_to_crlf": ["\r\n"] * 3 + ["\n"],
    "crlf_lines_appended_to_lf": ["\n"] * 4 + ["\r\n"],
    # only the header ends in CRLF
    "crlf_header_then_lf": ["\r\n", "\n"],
}
EXPECTED_STORED = [
    ("1.2.1", "Osaka", "1", 0.5, '{"protocol":"CHEST-PA"}'),
    ("1.2.2", "Osaka", "1", 0.5, '{"protocol":"CHEST-PA"}'),
    ("1.2.4", "Osaka", "1", 0.5, '{"protocol":"CHEST-PA"}'),
]


def stored(data_dir: Path) -> list[tuple[object, ...]]:
    return snapshot_rows(
        data_dir,
        "select p.study_uid, s.site, p.model_version, p.score, p.extra::varchar "
        "from predictions p join studies s using (study_uid) order by p.study_uid",
    )


def quarantined(data_dir: Path) -> list[tuple[int, str]]:
    return snapshot_rows(data_dir, "select row_number, reason from quarantine order by row_number")


def bad_score_reasons(name: str, rows: list[int]) -> list[str]:
    return [
        f"{name}: row {n}: column 'score' is 'abc'; expected a number between 0 and 1" for n in rows
    ]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_file_mixing_crlf_and_lf_loads_as_one_with_one_line_ending(
    data_dir: Path, tmp_path: Path, layout: str
) -> None:
    lines = lines_of()
    path = tmp_path / "p.csv"
    path.write_bytes(joined(lines, LAYOUTS[layout]).encode())
    written = path.read_bytes()
    assert b"\r\n" in written and b"\n" in written.replace(b"\r\n", b"")  # both endings
    [result] = ingest_files(data_dir, "predictions", [path])
    reasons = bad_score_reasons("p.csv", [4, 6])  # row 3 of the data is after an empty line
    assert (result.status, result.accepted, result.quarantined) == ("committed", 3, 2)
    assert result.reasons == reasons
    # no value keeps a CR: the last column, the text before it, the number
    assert stored(data_dir) == EXPECTED_STORED
    assert quarantined(data_dir) == list(zip([4, 6], reasons, strict=True))
    # the LF copy it was read from held the raw ids: it is gone, and no file of the data dir
    # holds one
    assert [p.name for p in store.scratch_dir(data_dir).iterdir()] == []
    assert files_holding(data_dir, b"PAT-1-MIX", b"PAT-3-MIX") == []


def test_line_endings_mixed_past_the_sniffers_sample_load_with_their_row_numbers(
    data_dir: Path, tmp_path: Path
) -> None:
    """DuckDB's sniffer reads the start of the file; a CRLF file whose LF lines start 30,000
    rows in was refused by its parser ('state machine reached an invalid state')."""
    lines = [HEADER] + [row(i) for i in range(1, 30_001)] + [row(30_001, "abc"), "", row(30_002)]
    path = tmp_path / "late.csv"
    path.write_bytes(joined(lines, ["\r\n"] * 30_001 + ["\n"]).encode())
    [result] = ingest_files(data_dir, "predictions", [path])
    reasons = bad_score_reasons("late.csv", [30_001])
    assert (result.status, result.accepted, result.quarantined) == ("committed", 30_001, 1)
    assert result.reasons == reasons
    assert quarantined(data_dir) == [(30_001, reasons[0])]
    [(rows, with_cr)] = snapshot_rows(
        data_dir,
        "select count(*), count(*) filter (where extra::varchar like '%\r%' "
        "or study_uid like '%\r%') from predictions",
    )
    assert (rows, with_cr) == (30_001, 0)


def _gzip(text: str) -> bytes:
    return gzip.compress(text.encode())


# how a file is written (its name, its bytes from its text) and the encoding it is declared in
ENCODED = {
    "gzip_named_gz": ("p.csv.gz", _gzip, None),
    "gzip_named_csv": ("p.csv", _gzip, None),
    "utf8_bom": ("p.csv", lambda t: b"\xef\xbb\xbf" + t.encode(), None),
    "utf16_bom": ("p.csv", lambda t: ("\ufeff" + t).encode("utf-16-le"), None),
    "cp932_declared": ("p.csv", lambda t: t.encode("cp932"), "cp932"),
    "cp932_gzip_declared": ("p.csv.gz", lambda t: gzip.compress(t.encode("cp932")), "cp932"),
    "latin1_declared": ("p.csv", lambda t: t.encode("latin-1"), "latin-1"),
}


@pytest.mark.parametrize("kind", ENCODED)
def test_compressed_and_encoded_files_with_mixed_line_endings_load_the_same(
    data_dir: Path, tmp_path: Path, kind: str
) -> None:
    name, encode, encoding = ENCODED[kind]
    site = "Sant\u00e9 Lyon" if kind == "latin1_declared" else OSAKA
    path = tmp_path / name
    path.write_bytes(encode(joined(lines_of(site), LAYOUTS["lf_lines_appended_to_crlf"])))
    [result] = ingest_files(data_dir, "predictions", [path], encoding=encoding)
    reasons = bad_score_reasons(name, [4, 6])
    assert (result.status, result.accepted, result.quarantined) == ("committed", 3, 2)
    assert result.reasons == reasons
    assert stored(data_dir) == [(uid, site, *rest) for uid, _, *rest in EXPECTED_STORED]
    assert quarantined(data_dir) == list(zip([4, 6], reasons, strict=True))
    assert [p.name for p in store.scratch_dir(data_dir).iterdir()] == []


def test_a_quoted_value_with_a_line_break_in_a_mixed_file_stays_one_row(
    data_dir: Path, tmp_path: Path
) -> None:
    """A quoted value spanning lines is read start to end (one thread); in a file of mixed line
    endings its line break reads as LF, whichever it was."""
    lines = [
        HEADER,
        row(1).replace("CHEST-PA", '"two\r\nlines"'),
        row(2).replace("CHEST-PA", '"one\nbreak"'),
        "",
        row(3, "abc"),
    ]
    path = tmp_path / "q.csv"
    path.write_bytes(joined(lines, ["\r\n", "\r\n", "\n"]).encode())
    [result] = ingest_files(data_dir, "predictions", [path])
    # the quoted values are one row each: the empty line is row 3, the bad row row 4
    reasons = bad_score_reasons("q.csv", [4])
    assert (result.status, result.accepted, result.quarantined) == ("committed", 2, 1)
    assert result.reasons == reasons
    assert snapshot_rows(
        data_dir, "select study_uid, extra->>'protocol' from predictions order by study_uid"
    ) == [("1.2.1", "two\nlines"), ("1.2.2", "one\nbreak")]
    assert quarantined(data_dir) == [(4, reasons[0])]


TOO_MANY = "the row has 11 fields, more than the header's 10 columns (a delimiter in a value that is not quoted?)"  # noqa: E501
TOO_FEW = (
    "the row has 9 fields, fewer than the header's 10 columns (a value with a line break that is "
    "not quoted, or a missing delimiter?)"
)
UNREADABLE = (
    "m.csv: cannot be read as CSV: its layout is not recognisable as CSV (a quote opened and "
    "never closed, or lines of different shapes)"
)
# a malformed file, and what loading it gives: (status, accepted, reasons or message)
MALFORMED = {
    "a_row_with_too_many_fields": (
        [HEADER, row(1), row(2) + ",extra", row(3)],
        ("committed", 2, [f"m.csv: row 2: {TOO_MANY}"]),
    ),
    "a_row_with_too_few_fields": (
        [HEADER, row(1), row(2).removesuffix(",CHEST-PA"), row(3)],
        ("committed", 2, [f"m.csv: row 2: {TOO_FEW}"]),
    ),
    "a_quote_never_closed": ([HEADER, row(1), row(2), '"' + row(3)], ("refused", 0, UNREADABLE)),
    "text_after_a_closing_quote": (
        [HEADER, row(1), row(2).replace(",Osaka,", ',"Osaka"x,'), row(3)],
        ("refused", 0, UNREADABLE),
    ),
    # past the sniffer's sample: the file is read again with room for more fields (it was
    # refused whole, 'near line 30002: not parseable as CSV', before)
    "a_late_row_with_too_many_fields": (
        [HEADER] + [row(i) for i in range(1, 30_001)] + [row(30_001) + ",extra", row(30_002)],
        (
            "committed",
            30_001,
            [
                "m.csv: row 30001: the row has 11 fields, more than the header's 10 columns "
                "(a delimiter in a value that is not quoted?)"
            ],
        ),
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
@pytest.mark.parametrize(
    "endings", [["\n"], ["\r\n"] * 2 + ["\n"]], ids=["lf_only", "crlf_then_lf"]
)
def test_a_malformed_file_with_mixed_endings_is_treated_as_with_one(
    data_dir: Path, tmp_path: Path, case: str, endings: list[str]
) -> None:
    """Mixed line endings do not relax the reader: a row with more or fewer fields than the
    header is quarantined, a quote never closed or text after a closing quote refuses the file,
    with the words and numbers of the same file with LF endings (checked here too). With
    DuckDB's strict mode off, the late row's extra field would be dropped without a word and
    'Osaka'x read as a value."""
    lines, expected = MALFORMED[case]
    path = tmp_path / "m.csv"
    path.write_bytes(joined(lines, endings).encode())
    [result] = ingest_files(data_dir, "predictions", [path], publish=False)
    status = expected[0]
    found = result.reasons if status == "committed" else result.message
    assert (result.status, result.accepted, found) == expected


def test_a_mixed_gzip_file_cut_short_is_refused_in_words(data_dir: Path, tmp_path: Path) -> None:
    """Its first lines mix CRLF and LF; the LF copy is cut short where the compressed data
    ends, and the file is refused saying so (not a traceback, no copy left)."""
    lines = [HEADER, row(1)] + [row(i) for i in range(2, 300_000)]
    whole = gzip.compress(joined(lines, ["\r\n", "\n", "\r\n"]).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    [result] = ingest_files(data_dir, "predictions", [path], publish=False)
    assert (result.status, result.message) == (
        "refused",
        "cut.csv.gz: cannot be read as CSV: its gzip compression is damaged or cut short "
        "(Compressed file ended before the end-of-stream marker was reached)",
    )
    assert [p.name for p in store.scratch_dir(data_dir).iterdir()] == []
