"""DICOM header values as the studies table stores them: text, study date-time, sex, age; and
the text values that hold a patient or reader id, which it does not store
(:func:`withhold_ids`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

import duckdb
from pydicom.multival import MultiValue

from ingest.contract import AGE_STRING, age_string_years
from ingest.redact import find_held_ids


def header_text(ds: object, keyword: str) -> str | None:
    """The element's value as stripped text ('' -> None); multiple values joined by '\\'."""
    value = ds.get(keyword)  # type: ignore[attr-defined]
    if value is None:
        return None
    if isinstance(value, MultiValue | list | tuple):
        text = "\\".join(str(v).strip() for v in value)
    else:
        text = str(value)
    text = text.strip().strip("\0").strip()
    return text or None


_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")


_TM = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")


def parse_study_datetime(date: str | None, time: str | None) -> str | None:
    """StudyDate (DA) + StudyTime (TM) as ISO text; a missing or bad time means midnight.

    DA is ``YYYYMMDD`` (the pre-1993 ``YYYY.MM.DD`` is accepted); TM is ``HH[MM[SS[.F{1,6}]]]``
    (PS3.5 6.2; the old ``HH:MM:SS`` form is accepted). An invalid date gives None.
    """
    if not date or not (m := _DA.match(date.strip())):
        return None
    hour = minute = second = micro = 0
    if time and (t := _TM.match(time.strip())):
        hour, minute, second = (int(g) if g else 0 for g in t.groups()[:3])
        micro = int(t.group(4).ljust(6, "0")) if t.group(4) else 0
    try:
        value = datetime(int(m[1]), int(m[2]), int(m[3]), hour, minute, second, micro)
    except ValueError:
        try:
            value = datetime(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return None
    return value.isoformat(sep=" ")


def parse_sex(value: str | None) -> str | None:
    """M, F, O as sent (case-insensitive); other non-empty values U; empty None."""
    if value is None:
        return None
    value = value.upper()
    return value if value in ("M", "F", "O") else "U"


def parse_age(value: str | None) -> int | None:
    """PatientAge (AS, ``nnnY|M|W|D``) in whole years; None when invalid or above 130.

    The rule is the contract's (:func:`ingest.contract.age_string_years`), which a CSV's
    patient_age meets in SQL too."""
    if not value or not (m := re.fullmatch(AGE_STRING, value.strip().upper(), re.ASCII)):
        return None
    years = age_string_years(int(m[1]), m[2])
    return years if years <= 130 else None


class Withheld(NamedTuple):
    """A header field whose value, in some files, is or holds a patient or reader id
    (:func:`withhold_ids`): its DICOM keyword, how many files and studies, and the first
    :data:`WITHHELD_SHOWN` of those studies' UIDs."""

    keyword: str
    files: int
    studies: int
    shown: list[str]


WITHHELD_SHOWN = 3


def withhold_ids(
    con: duckdb.DuckDBPyConnection,
    fields: Mapping[str, str],
    own_ids: str | None,
    pads: Mapping[str, bytes],
) -> tuple[list[Withheld], int]:
    """Empty, in temp table ``_dicom_files`` (one row per file read: ``study_uid`` and the
    columns of ``fields`` it has, column -> DICOM keyword), each value that is or holds a
    patient or reader id, and say where: (a :class:`Withheld` per field that had one, in the
    order of ``fields``; how many studies had one in any field).

    The rule is the one rows of a file meet (:mod:`ingest.held_ids`): a value or one of its
    parts of 4 characters or more that is one of the call's own PatientIDs (``own_ids``, a
    SELECT of column ``id``, the raw ids, never stored), ignoring case, or whose pseudonym the
    store holds (a patient's or a reader's): :func:`ingest.redact.find_held_ids`, over each
    column's few distinct values (a station, a scanner, a site), not each file's. An
    InstitutionName, StationName or SoftwareVersions that holds the MRN would otherwise become a
    site, station or software version on the dashboard and in the report. An emptied value is as if the header
    left it empty: the study takes another of its files' value, or keeps the stored one.
    ``pads``: the HMAC pads of :func:`ingest.validate.pseudonym_sql`."""
    present = {row[0] for row in con.execute("describe _dicom_files").fetchall()}
    columns = [c for c in fields if c in present]
    values = " union all ".join(
        f"select distinct {i} as i, {c} as v from _dicom_files" for i, c in enumerate(columns)
    )
    if not columns or not find_held_ids(con, values, own_ids, dict(pads)):
        con.execute("drop table if exists _held")
        return [], 0
    found = sorted(i for (i,) in con.execute("select distinct i from _held").fetchall())
    held = {columns[i]: f"{columns[i]} in (select v from _held where i = {i})" for i in found}
    counts = con.execute(
        " union all ".join(
            f"""
            select {i} as i, count(*), count(distinct study_uid),
                   list(distinct study_uid order by study_uid)[:{WITHHELD_SHOWN}]
            from _dicom_files where {held[columns[i]]}
            """
            for i in found
        )
        + " order by i"
    ).fetchall()
    [(studies,)] = con.execute(
        f"select count(distinct study_uid) from _dicom_files where {' or '.join(held.values())}"
    ).fetchall()
    con.execute(
        "update _dicom_files set "
        + ", ".join(f"{c} = case when {test} then null else {c} end" for c, test in held.items())
        + f" where {' or '.join(held.values())}"
    )
    con.execute("drop table _held")
    return [
        Withheld(fields[columns[i]], int(files), int(n), list(uids)) for i, files, n, uids in counts
    ], int(studies)
