"""DICOM header values as the studies table stores them: text, study date-time, sex, age."""

from __future__ import annotations

import re
from datetime import datetime

from pydicom.multival import MultiValue

from ingest.contract import AGE_STRING, age_string_years


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
