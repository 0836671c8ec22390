"""radqa.toml's ``extra_columns``: an opt-in allow-list of the columns beyond the contract that
ingest keeps in ``extra``. A name list of person columns cannot catch ``insurance``,
``verified`` or a name in another language; with the list, only what it names is stored (a
privacy officer's request). A column whose name says it identifies a person is never stored,
listed or not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.load import ingest_files
from radqa.errors import ConfigError
from radqa.settings import load_settings
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, files_holding, working_rows, write

EXTRAS = "Protocol,insurance,verified,Patient Name"
ROWS = (
    "1,P1,Osaka,2026-10-01,CR,ptx,M,1,0.4,CHEST-PA,GOLD-PLAN-7731,yes,TARO YAMADA",
    "2,P2,Osaka,2026-10-01,CR,ptx,M,1,0.6,CHEST-AP,GOLD-PLAN-7731,no,HANAKO SATO",
)
PERSON = (
    "'patient name' (its name says it identifies a person; of the ids, only patient_id and "
    "reader_id are kept, as pseudonyms)"
)


def _settings(data_dir: Path, text: str) -> Path:
    path = data_dir / "radqa.toml"
    path.write_text(text)
    return path


def _predictions(tmp_path: Path, *rows: str) -> Path:
    return write(tmp_path / "p.csv", "\n".join([f"{PRED_HEADER},{EXTRAS}", *(rows or ROWS)]))


def _extras(data_dir: Path, table: str = "predictions") -> list[object]:
    """Each row's ``extra`` as stored in the working file, by study_uid."""
    rows = working_rows(data_dir, f"select extra from {table} order by study_uid")
    return [None if extra is None else json.loads(extra) for (extra,) in rows]


def _refusal(data_dir: Path, text: str) -> str:
    _settings(data_dir, text)
    with pytest.raises(ConfigError) as err:
        load_settings(data_dir)
    return str(err.value)


def test_without_extra_columns_every_extra_but_a_person_column_is_kept(
    data_dir: Path, tmp_path: Path
) -> None:
    _settings(data_dir, '[operating_points]\n"M/ptx" = 0.5\n')
    assert load_settings(data_dir).extra_columns is None
    [result] = ingest_files(data_dir, "predictions", [_predictions(tmp_path)], publish=False)
    assert result.message == (
        "p.csv: 2 accepted (2 new, 0 replaced, 0 unchanged), 0 quarantined; not stored: "
        f"column(s) {PERSON}"
    )
    assert _extras(data_dir) == [
        {"protocol": "CHEST-PA", "insurance": "GOLD-PLAN-7731", "verified": "yes"},
        {"protocol": "CHEST-AP", "insurance": "GOLD-PLAN-7731", "verified": "no"},
    ]


def test_with_extra_columns_only_the_listed_extras_are_kept(data_dir: Path, tmp_path: Path) -> None:
    """Names are matched ignoring case and surrounding spaces, as a file's headers are."""
    _settings(data_dir, 'extra_columns = ["PROTOCOL ", "confidence_note"]\n')
    [predictions] = ingest_files(data_dir, "predictions", [_predictions(tmp_path)], publish=False)
    assert predictions.status == "committed"
    assert _extras(data_dir) == [{"protocol": "CHEST-PA"}, {"protocol": "CHEST-AP"}]
    reads = write(
        tmp_path / "r.csv",
        f"{READ_HEADER},Confidence_Note,insurance\n1,ptx,R1,1,2026-10-02,sure,GOLD-PLAN-7731\n"
        "2,ptx,R1,0,2026-10-02,,GOLD-PLAN-7731",
    )
    [result] = ingest_files(data_dir, "reads", [reads], publish=False)
    assert result.status == "committed"
    assert _extras(data_dir, "reads") == [{"confidence_note": "sure"}, {"confidence_note": None}]
    assert files_holding(data_dir, b"GOLD-PLAN-7731") == []


def test_an_empty_list_keeps_no_extra_column(data_dir: Path, tmp_path: Path) -> None:
    _settings(data_dir, "extra_columns = []\n")
    [result] = ingest_files(data_dir, "predictions", [_predictions(tmp_path)], publish=False)
    assert result.status == "committed"
    assert _extras(data_dir) == [None, None]


def test_the_message_names_the_unlisted_columns_apart_from_the_person_ones(
    data_dir: Path, tmp_path: Path
) -> None:
    _settings(data_dir, 'extra_columns = ["protocol"]\n')
    [result] = ingest_files(data_dir, "predictions", [_predictions(tmp_path)], publish=False)
    assert result.message == (
        "p.csv: 2 accepted (2 new, 0 replaced, 0 unchanged), 0 quarantined; not stored: "
        f"column(s) {PERSON}; not stored: column(s) 'insurance', 'verified' (not in "
        "extra_columns of radqa.toml)"
    )


def test_a_bad_rows_quarantined_values_lack_an_unlisted_column(
    data_dir: Path, tmp_path: Path
) -> None:
    """A bad row keeps its values in quarantine (``_raw_json``), extras included: an unlisted
    column's value would be kept there while the good rows leave it out. A row whose key a later
    row repeats keeps its row as stored, with ``extra``."""
    _settings(data_dir, 'extra_columns = ["protocol"]\n')
    bad = ROWS[1].replace(",0.6,", ",1.5,")
    duplicate = ROWS[0].replace(",CHEST-PA,", ",CHEST-LAT,")
    path = _predictions(tmp_path, ROWS[0], duplicate, bad)
    [result] = ingest_files(data_dir, "predictions", [path], publish=False)
    assert (result.accepted, result.quarantined) == (1, 2)
    rows = working_rows(data_dir, "select row_number, raw from quarantine order by row_number")
    raws = {number: json.loads(raw) for number, raw in rows}
    assert raws[1]["extra"] == {"protocol": "CHEST-PA"}  # the duplicate: the row as stored
    assert raws[3]["protocol"] == "CHEST-AP"  # the bad row: its values as read
    assert {"insurance", "verified", "patient name"}.isdisjoint(raws[3])
    assert files_holding(data_dir, b"GOLD-PLAN-7731") == []


def test_a_listed_column_whose_name_says_it_identifies_a_person_is_not_stored(
    data_dir: Path, tmp_path: Path
) -> None:
    """'radiologistid' reads as one word, so the list passes; the file's header writes it
    RadiologistID, whose words say it names a person: the person rule wins."""
    _settings(data_dir, 'extra_columns = ["radiologistid", "protocol"]\n')
    row = "1,P1,Osaka,2026-10-01,CR,ptx,M,1,0.4,Dr.Quinn,CHEST-PA"
    path = write(tmp_path / "c.csv", f"{PRED_HEADER},RadiologistID,Protocol\n{row}")
    [result] = ingest_files(data_dir, "predictions", [path], publish=False)
    assert result.message.endswith(
        "; not stored: column(s) 'radiologistid' (its name says it identifies a person; of the "
        "ids, only patient_id and reader_id are kept, as pseudonyms)"
    )
    assert _extras(data_dir) == [{"protocol": "CHEST-PA"}]
    assert files_holding(data_dir, b"Dr.Quinn") == []
    assert _refusal(data_dir, 'extra_columns = ["protocol", "Patient Name"]\n') == (
        f"{data_dir / 'radqa.toml'}: extra_columns holds 'Patient Name', whose name says it "
        "identifies a person: such a column is never stored (of the ids, only patient_id and "
        "reader_id are kept, as pseudonyms); remove it from the list"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            'extra_columns = "protocol"\n',
            "extra_columns = 'protocol'; expected a list of the extra columns to keep, such as "
            'extra_columns = ["protocol", "contrast_agent"] ([] keeps none)',
        ),
        (
            "[extra_columns]\nprotocol = true\n",
            "extra_columns = {'protocol': True}; expected a list of the extra columns to keep, "
            'such as extra_columns = ["protocol", "contrast_agent"] ([] keeps none)',
        ),
        (
            'extra_columns = ["protocol", 5]\n',
            'extra_columns holds 5; expected a column\'s name as text, such as "protocol"',
        ),
        (
            'extra_columns = ["protocol", " "]\n',
            "extra_columns holds ' '; expected a column's name as text, such as \"protocol\"",
        ),
        (
            'extra_column = ["protocol"]\n',
            "unknown key extra_column = ['protocol'] (did you mean extra_columns?); expected "
            'time_zone = "Area/City" and extra_columns = ["column", ...] (before the first '
            '[section]), [operating_points], [site_map], [claims."MODEL"]',
        ),
        (
            '[site_map]\n"A" = "B"\nextra_columns = ["protocol"]\n',
            "[site_map] holds extra_columns = ['protocol']: a line after a [section] header "
            "belongs to that section; move extra_columns above the first [section]",
        ),
    ],
)
def test_a_bad_extra_columns_value_is_one_line(data_dir: Path, text: str, message: str) -> None:
    assert _refusal(data_dir, text) == f"{data_dir / 'radqa.toml'}: {message}"


def test_loading_a_file_again_after_the_list_changed_stores_the_new_extras(
    data_dir: Path, tmp_path: Path
) -> None:
    """The list decides the rows a file gives, as an operating point does: it is part of the
    reading context, so the same bytes are read again, not taken as loaded."""
    path = _predictions(tmp_path)
    [first] = ingest_files(data_dir, "predictions", [path], publish=False)
    assert first.status == "committed" and _extras(data_dir)[0] == {
        "protocol": "CHEST-PA",
        "insurance": "GOLD-PLAN-7731",
        "verified": "yes",
    }
    _settings(data_dir, 'extra_columns = ["protocol"]\n')
    [listed] = ingest_files(data_dir, "predictions", [path], publish=False)
    assert (listed.status, listed.replaced, listed.removed) == ("committed", 2, 0)
    assert _extras(data_dir) == [{"protocol": "CHEST-PA"}, {"protocol": "CHEST-AP"}]
    _settings(data_dir, 'extra_columns = ["Protocol"]\n')  # the same list, another case
    [same] = ingest_files(data_dir, "predictions", [path], publish=False)
    assert same.status == "unchanged"
    _settings(data_dir, 'extra_columns = ["protocol", "verified"]\n')
    [more] = ingest_files(data_dir, "predictions", [path], publish=False)
    assert (more.status, more.replaced) == ("committed", 2)
    assert _extras(data_dir) == [
        {"protocol": "CHEST-PA", "verified": "yes"},
        {"protocol": "CHEST-AP", "verified": "no"},
    ]
    (data_dir / "radqa.toml").unlink()  # back to the default: every extra but the person's
    [back] = ingest_files(data_dir, "predictions", [path], publish=False)
    assert (back.status, back.replaced) == ("committed", 2)
    assert _extras(data_dir)[1] == {
        "protocol": "CHEST-AP",
        "insurance": "GOLD-PLAN-7731",
        "verified": "no",
    }
