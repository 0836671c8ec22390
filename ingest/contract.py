"""The input contract: the columns of predictions and reads files and the rule each must meet.

Each column becomes a typed SQL expression over the raw column and a check that yields a message
when a row breaks the rule. Validation is SQL over the whole file, never a Python loop over rows.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ingest.pseudonym import fold_id_sql

# DICOM PS3.3 C.7.3.1.1.1 Modality defined terms (current and commonly still sent).
DICOM_MODALITIES = [
    "AR",
    "ASMT",
    "AU",
    "BDUS",
    "BI",
    "BMD",
    "CR",
    "CT",
    "CTPROTOCOL",
    "DG",
    "DOC",
    "DX",
    "ECG",
    "EPS",
    "ES",
    "FID",
    "GM",
    "HC",
    "HD",
    "IO",
    "IOL",
    "IVOCT",
    "IVUS",
    "KER",
    "KO",
    "LEN",
    "LS",
    "MG",
    "MR",
    "M3D",
    "NM",
    "OAM",
    "OCT",
    "OP",
    "OPM",
    "OPT",
    "OPTBSV",
    "OPTENF",
    "OPV",
    "OSS",
    "OT",
    "PLAN",
    "PR",
    "PT",
    "PX",
    "REG",
    "RESP",
    "RF",
    "RG",
    "RTDOSE",
    "RTIMAGE",
    "RTINTENT",
    "RTPLAN",
    "RTRAD",
    "RTRECORD",
    "RTSEGANN",
    "RTSTRUCT",
    "RWV",
    "SEG",
    "SM",
    "SMR",
    "SR",
    "SRF",
    "STAIN",
    "TEXTUREMAP",
    "TG",
    "US",
    "VA",
    "XA",
    "XC",
]

# ISO 8601's basic format (no separators), as DICOM writes DA and DT values.
BASIC_FORMATS = (
    "['%Y%m%d', '%Y%m%dT%H%M%S', '%Y%m%dT%H%M', '%Y%m%dT%H%M%S.%f', '%Y%m%d%H%M%S', "
    "'%Y%m%d%H%M%S.%f']"
)

# A date-time that ends in an offset or Z: after a time (hh:mm), so that a date's '-31' is not one
OFFSET_PATTERN = r"'\d:\d\d(:\d\d([.,]\d*)?)?\s*([zZ]|[+-]\d\d(:?\d\d)?)\s*$'"

# A word after a time ('10:00 PM', '10:00 UTC', '10:00:00 Asia/Tokyo'), and of such words the
# zone names read as an instant (UTC, GMT, an IANA Area/Location name), and a 12-hour clock's
WORD_AFTER_TIME = r"'\d:\d\d(:\d\d([.,]\d*)?)?\s*[A-Za-z][A-Za-z0-9_/+.-]+\s*$'"
ZONE_NAME = r"'\d\s*(UTC|GMT|[A-Za-z_]+/[A-Za-z0-9_/+-]+)\s*$'"
AM_PM = r"'\d\s*[aApP]\.?[mM]\.?\s*$'"


def worded_time_sql(raw: str) -> str:
    """SQL: whether ``raw`` is text with a word after its time (:data:`WORD_AFTER_TIME`), which
    the timestamp rule reads as a zone or refuses (:meth:`Column.typed_sql`), and whose reason
    says which (:func:`ingest.validate._problem`)."""
    return (
        f"typeof({raw}) = 'VARCHAR' and regexp_matches(cast({raw} as varchar), {WORD_AFTER_TIME})"
    )


def am_pm_sql(raw: str) -> str:
    """SQL: whether the word after ``raw``'s time is a 12-hour clock's AM or PM."""
    return f"regexp_matches(cast({raw} as varchar), {AM_PM})"


# The same in ISO 8601's basic format (20261003T142000Z, 20261003T1420+0900), and the formats
# that read it once its Z is written +0000 (DuckDB's %z reads +09, +0900 and +09:00, not Z)
BASIC_OFFSET_PATTERN = r"'^\s*\d{8}T?\d{4}(\d\d([.,]\d*)?)?\s*([zZ]|[+-]\d\d(:?\d\d)?)\s*$'"
BASIC_ZONED_FORMATS = (
    "['%Y%m%dT%H%M%S%z', '%Y%m%dT%H%M%z', '%Y%m%dT%H%M%S.%f%z', '%Y%m%d%H%M%S%z', "
    "'%Y%m%d%H%M%z', '%Y%m%d%H%M%S.%f%z']"
)

READ_ROLES = ("primary", "second", "consensus", "adjudication")

# patient_sex written out, in any case (M, F, O, U stand for them)
SEX_WORDS = ("male", "female", "other", "unknown")

# DICOM's Age String (PS3.5 6.2, AS: nnnD, nnnW, nnnM or nnnY), read as DICOM ingest reads
# PatientAge (ingest/dicom_values.py) and as a CSV's patient_age may be written: whole years, each
# unit as (numerator, denominator) of a year, a year being 365.25 days, rounded down.
AGE_STRING = r"(\d{1,3})\s*([YMWD])"
AGE_UNIT_YEARS = {"Y": (1, 1), "M": (1, 12), "W": (28, 1461), "D": (4, 1461)}


def age_string_years(count: int, unit: str) -> int:
    """An Age String's whole years (``6, 'M'`` -> 0, ``45, 'Y'`` -> 45)."""
    numerator, denominator = AGE_UNIT_YEARS[unit]
    return count * numerator // denominator


def age_string_sql(text: str) -> str:
    """SQL of :func:`age_string_years` over ``text`` (trimmed, in upper case): NULL when it is
    not an Age String."""
    count = f"regexp_extract({text}, '^\\d+')::integer"
    whens = " ".join(
        f"when '{unit}' then {count} * {num} // {den}"
        for unit, (num, den) in AGE_UNIT_YEARS.items()
    )
    return (
        f"case when regexp_full_match({text}, '{AGE_STRING}') "
        f"then case right({text}, 1) {whens} end end"
    )


# An id in scientific notation (1.23E+07, 1,2e+15): a spreadsheet shows a long number so after
# rounding it (different patients become one) and writes it so to CSV; DuckDB casts a float of
# 10^16 or more to text so too. The exponent's sign is required: Excel, pandas and DuckDB write
# one, and an accession number such as 12E345 is an id.
SCIENTIFIC_ID = r"^[0-9]+([.,][0-9]+)?[eE][+-][0-9]+$"

# The longest text value of a contract column (site, finding, an id, a scanner's model, ...), in
# characters. DICOM's longest such value (LO: a site, a model name) is 64 characters and a UID
# 64; a longer one is a cell that swallowed others (a broken export, a report's text pasted
# into the site column), which would become one dashboard group of its own. Extra columns (a
# report's text) have no limit.
MAX_TEXT = 256


def id_rules_sql(text: str) -> str:
    """SQL of an id (``text``: trimmed, NULL when empty) as written: NULL when it is a number in
    scientific notation (:data:`SCIENTIFIC_ID`); a whole number written as a float, '123456.0',
    as its digits (pandas writes an integer column with a gap as floats). LIKE tests first: the
    regular expressions run only on the few values they let through (a sign for scientific
    notation: two tests cost less than four for 'E+', 'e-', ...; an MRN-0012 is let through)."""
    return (
        f"case when ({text} like '%+%' or {text} like '%-%') "
        f"and regexp_full_match({text}, '{SCIENTIFIC_ID}') "
        f"then null when {text} like '%.0%' "
        f"then regexp_replace({text}, '^([0-9]+)\\.0+$', '\\1') else {text} end"
    )


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``kind`` is one of text, modality, timestamp, score, binary, bool, number, age, sex, role.
    ``identifier`` marks raw ids that are pseudonymised and never stored, logged or shown.
    ``an_id`` marks ids (study, patient, reader): a whole number written as a float, '123456.0',
    is its digits. That covers a Parquet float column too: DuckDB writes 123456.0 as
    '123456.0' up to 10^15, and beyond 2^53 a float cannot hold an integer id exactly anyway.
    Excel's text-forcing ="00012345" and '00012345 are the id inside; an id in scientific
    notation (1.23E+07: rounded by a spreadsheet, or a float of 10^16 or more) is invalid.
    """

    name: str
    kind: str
    required: bool
    identifier: bool = False
    an_id: bool = False

    @property
    def sql_type(self) -> str:
        """The DuckDB type of the typed value."""
        return {
            "timestamp": "timestamp",
            "score": "double",
            "number": "double",
            "age": "smallint",
            "binary": "boolean",
            "bool": "boolean",
        }.get(self.kind, "varchar")

    def typed_sql(self, raw: str, *, zoned: bool = False, decimal_comma: bool = False) -> str:
        """SQL giving the typed value (NULL when absent or invalid).

        ``zoned`` (``time_zone`` is set in radqa.toml, and is the session's TimeZone): a text
        date-time with an offset or Z is an instant, and becomes the site's wall-clock time
        (``2026-10-31T20:00:00Z`` in Asia/Tokyo is 2026-11-01 05:00), as a Parquet timestamp
        with time zone does. A time without an offset is the site's wall clock already, and
        stays as written, also where a change of daylight saving time skips or repeats it.
        Without ``zoned`` an offset is dropped (the time as written).

        ``decimal_comma``: a CSV file whose delimiter is not a comma, as Excel saves one where
        the comma is the decimal separator (Germany, France, Spain, ...): a number written
        ``0,35`` is 0.35."""
        text = f"nullif(trim(cast({raw} as varchar)), '')"
        if self.identifier:  # ＰＡＴ１２６ is PAT126, as its pseudonym is: the same patient or
            # reader in the duplicate check, the study's patients and the id search
            text = f"nullif(trim({fold_id_sql(raw)}), '')"
        match self.kind:
            case "text" if self.an_id:
                # Excel's ways of keeping an id's leading zeros, as its CSV may write them: the
                # formula ="00012345" is the text inside, a leading apostrophe is dropped. Then
                # the rules of an id as written (id_rules_sql). Prefix tests first: a usual id
                # pays two LIKEs here. Not when the text inside starts with either again
                # (''12, ="'12"): a quarantined row's values hold its ids as typed, and are typed
                # again for the reason (ingest.validate.problems_sql), which must find them so.
                formula = f"nullif(trim(substr({text}, 3, length({text}) - 3)), '')"
                apostrophe = f"nullif(trim(substr({text}, 2)), '')"
                once = "coalesce(left({}, 1), '') not in ('''', '=')"
                return (
                    f"case when {text} like '=\"%' and {text} like '%\"' and {once.format(formula)} "
                    f"then {id_rules_sql(formula)} "
                    f"when {text} like '''%' and {once.format(apostrophe)} "
                    f"then {id_rules_sql(apostrophe)} "
                    f"else {id_rules_sql(text)} end"
                )
            case "text":
                return text
            case "modality":
                return f"upper({text})"
            case "sex":
                # male, Female, OTHER, unknown as M, F, O, U; m, f, o, u upper-cased; any other
                # value upper-cased, so that it fails the check (DICOM ingest calls it U instead)
                words = " ".join(f"when '{w}' then '{w[0].upper()}'" for w in SEX_WORDS)
                return f"case lower({text}) {words} else upper({text}) end"
            case "role":
                return f"lower({text})"
            case "timestamp":
                # DuckDB's cast skips the spaces that trim() removes and reads '' as invalid,
                # so the first try needs no trimmed copy (measured: 0.04 s less per 1M rows).
                # Then: without its offset (the site's wall-clock time); then ISO 8601's basic
                # format, as DICOM writes dates (20261003, 20261003T142000). coalesce() tries a
                # form only on the rows the ones before it failed: no cost for the usual rows.
                # A basic-format time with an offset (20261003T142000Z) is read like an
                # extended one: with its offset dropped, or as an instant when zoned.
                instant = ""
                if zoned:  # only a text value that ends in an offset or Z, after a time
                    basic = (
                        f"regexp_replace(regexp_replace(regexp_replace({text}, '\\s*[zZ]$', "
                        "'+0000'), '\\s+([+-])', '\\1'), ',', '.')"
                    )
                    instant = (
                        f"case when typeof({raw}) = 'VARCHAR' and regexp_matches(cast({raw} as varchar), "
                        f"{OFFSET_PATTERN}) then try_cast({text} as timestamptz)::timestamp end, "
                        f"case when typeof({raw}) = 'VARCHAR' and regexp_matches(cast({raw} as varchar), "
                        f"{BASIC_OFFSET_PATTERN}) then "
                        f"try_strptime({basic}, {BASIC_ZONED_FORMATS})::timestamp end, "
                    )
                read = (
                    f"coalesce({instant}try_cast(cast({raw} as varchar) as timestamp), "
                    f"try_cast(regexp_replace({text}, "
                    r"'(Z|[+-]\d\d:?\d\d)$', '') as timestamp), "
                    f"try_strptime(regexp_replace({text}, "
                    r"'\s*([zZ]|[+-]\d\d(:?\d\d)?)$', ''), "
                    f"{BASIC_FORMATS}))"
                )
                # A word after the time: DuckDB's cast to TIMESTAMP drops it, so '10:00 PM' was
                # read as 10:00 and '10:00 EST' as 10:00 in Tokyo. AM/PM is refused (ISO 8601 has
                # a 24-hour clock); a zone name is an instant when zoned: UTC, GMT or an IANA
                # name (Asia/Tokyo) is converted, an abbreviation (EST, KST: ambiguous, and ICU
                # reads PST as Los Angeles time, daylight saving included) is refused. Without
                # time_zone the word is dropped, as an offset is.
                worded = worded_time_sql(raw)
                if zoned:
                    known = f"regexp_matches(cast({raw} as varchar), {ZONE_NAME}, 'i')"
                    return (
                        f"case when {worded} then (case when {known} then "
                        f"try_cast({text} as timestamptz)::timestamp end) else {read} end"
                    )
                return (
                    f"case when {worded} and {am_pm_sql(raw)} then null::timestamp else {read} end"
                )
            case "score" | "number":
                # A float32 column (as PyTorch and numpy write scores) holds 0.35 as
                # 0.3499999940395355, which is below a threshold of 0.35 where the same score in
                # a CSV file is not: a float32 value that is a decimal of up to 6 places is read
                # as that decimal. typeof() is known when the query is planned, so other columns
                # pay nothing; a float32 column 0.24 s per 10M rows.
                number = f"try_cast({raw} as double)"
                if decimal_comma:  # coalesce() tries it only where the cast failed
                    number = (
                        f"coalesce({number}, case when regexp_full_match({text}, "
                        f"'[-+]?[0-9]*,[0-9]+') then try_cast(replace({text}, ',', '.') "
                        "as double) end)"
                    )
                near = f"round({number}, 6)"
                return (
                    f"case when typeof({raw}) = 'FLOAT' then (case when {near}::float = {raw} "
                    f"then {near} else {number} end) else {number} end"
                )
            case "age":
                # whole years: DuckDB's cast would round '54.5' to 55; '54.0' is 54. Not a
                # number: a DICOM Age String (045Y, 006M), only on the rows that are not numbers
                number = f"try_cast({raw} as double)"
                return (
                    f"case when {number} is null then {age_string_sql(f'upper({text})')}::smallint "
                    f"when {number} = trunc({number}) then try_cast({raw} as smallint) end"
                )
            case "binary" | "bool":
                # a reader's ai_assisted (bool) as DuckDB reads a boolean (t, f, y, n too); a
                # label (binary) 0 or 1, true or false, yes or no, as before
                spellings = (
                    "when 't' then true when 'f' then false when 'y' then true when 'n' then false "
                    if self.kind == "bool"
                    else ""
                )
                return (
                    f"case lower({text}) when '1' then true when '0' then false "
                    "when 'true' then true when 'false' then false "
                    "when '1.0' then true when '0.0' then false "
                    f"when 'yes' then true when 'no' then false {spellings}end"
                )
        raise AssertionError(self.kind)

    def expectation(self) -> str:
        """What a valid value looks like, for the error message."""
        return {
            "text": "text",
            "modality": "a DICOM modality code such as CR, DX, CT, MR, MG, US",
            "timestamp": "an ISO 8601 date or date-time after 1970-01-01 and before 2100, such "
            "as 2026-10-03, 2026-10-03T14:20:00 or 20261003",
            "score": "a number between 0 and 1",
            "number": "a number",
            "binary": "0 or 1",
            "bool": "true or false",
            "age": "whole years between 0 and 130, or a DICOM age string such as 045Y, 006M, "
            "003W or 010D",
            "sex": "M, F, O or U (or male, female, other, unknown)",
            "role": "one of " + ", ".join(READ_ROLES),
        }[self.kind]

    def valid_sql(self, typed: str, *, ordered: bool = False) -> str:
        """SQL that is true when a present value meets the rule.

        ``ordered``: the query must keep its rows in file order (a CSV's checking pass, see
        :func:`ingest.load._check`), which rules out a join.
        """
        match self.kind:
            case "modality":
                codes = ", ".join(f"'{c}'" for c in DICOM_MODALITIES)
                if ordered:  # a join does not keep the rows in order
                    return f"list_contains([{codes}], {typed})"
                # a semi-join on the codes' list: a 70-term IN list costs ~1.6 s of CPU at 10M rows
                return f"{typed} in (select unnest([{codes}]))"
            case "timestamp":
                # DuckDB also reads 'infinity', 'epoch', '2026-10-01 (BC)' and year 29999; the
                # Unix epoch's day is what many systems write for a missing date, in any time
                # zone (0 UTC is 09:00 in Tokyo)
                return f"{typed} >= TIMESTAMP '1970-01-02' and {typed} < TIMESTAMP '2100-01-01'"
            case "score":
                return f"{typed} between 0 and 1"
            case "number":
                return f"isfinite({typed})"
            case "age":
                return f"{typed} between 0 and 130"
            case "sex":
                return f"{typed} in ('M', 'F', 'O', 'U')"
            case "role":
                return f"{typed} in ({', '.join(repr(r) for r in READ_ROLES)})"
            case "text" if not self.identifier:  # a patient or reader id is stored as a
                # pseudonym of 24 characters, whatever its length. length() reads ASCII fast:
                # 0.05 s per 10M rows for eight columns
                return f"length({typed}) <= {MAX_TEXT}"
        return "true"


PREDICTIONS = (
    Column("study_uid", "text", True, an_id=True),
    Column("patient_id", "text", True, identifier=True, an_id=True),
    Column("site", "text", True),
    Column("study_datetime", "timestamp", True),
    Column("modality", "modality", True),
    Column("finding", "text", True),
    Column("model_name", "text", True),
    Column("model_version", "text", True),
    Column("score", "score", True),
    Column("predicted", "binary", False),
    Column("threshold", "score", False),
    Column("body_part", "text", False),
    Column("scanner_manufacturer", "text", False),
    Column("scanner_model", "text", False),
    Column("scanner_software", "text", False),
    Column("station", "text", False),
    Column("patient_age", "age", False),
    Column("patient_sex", "sex", False),
)

READS = (
    Column("study_uid", "text", True, an_id=True),
    Column("finding", "text", True),
    Column("reader_id", "text", True, identifier=True, an_id=True),
    Column("label", "binary", True),
    Column("read_datetime", "timestamp", True),
    Column("read_role", "role", False),
    Column("rating", "number", False),
    Column("ai_assisted", "bool", False),
    Column("arm", "text", False),
)

CONTRACTS = {"predictions": PREDICTIONS, "reads": READS}

NATURAL_KEYS = {
    "predictions": ("study_uid", "finding", "model_name", "model_version"),
    "reads": ("study_uid", "finding", "reader_pid", "read_role", "arm"),
}

# Extra columns that name a person: never stored, not even in quarantine (ARCHITECTURE.md: raw
# identifiers are never stored). Matched on the name in NFKC form (full-width ＩＤ and ＭＲＮ as
# Japanese Excel writes them are ID and MRN) and case-folded, without separators, whole or in
# part; after DICOM PS3.15's Basic Profile (names, birth date, addresses, record numbers).
_PERSON_NAMES = frozenset(
    ("name", "dob", "mrn", "mrno", "ssn", "rrn", "mynumber", "pid", "ptid", "patid",
     "ptno", "ptname", "patient", "subject", "subjectid", "person", "username", "kana",
     "furigana", "フリガナ", "ふりがな", "hn", "chart", "pt", "login", "zip", "患者", "医師",
     "医生", "emergencycontact", "mrnumber", "hospno", "urno", "urnumber", "unitno",
     "unitnumber", "emrid", "mpiid")
)  # fmt: skip
_PERSON_PARTS = (
    "patientname", "patientsname", "firstname", "lastname", "surname", "givenname",
    "familyname", "fullname", "birthdate", "dateofbirth", "birthday", "address", "phone",
    "email", "medicalrecord", "recordnumber", "hospitalnumber", "otherpatientid",
    "socialsecurity", "nationalid", "insuranceno", "insurancenumber", "insuranceid",
    "residentregistration", "accession", "physicianname", "physicianid", "readername",
    "radiologistname", "doctorname", "operatorname", "operatorsname", "patientid", "readerid",
    "patientno", "patientnumber", "chartno", "chartnumber", "karte", "hospitalno", "kanja",
    "hwanja", "initials", "reportedby", "readby", "signedby", "approvedby", "verifiedby",
    "orderedby", "performedby", "dictatedby", "medrec", "birthyear", "yearofbirth",
    "forename", "middlename", "maidenname", "zipcode", "postalcode", "postcode",
    # German, French and Spanish headers of European systems: birth date, first and last name,
    # the reporting doctor, the patient's number, address, phone
    "geburtsdatum", "geburtstag", "vorname", "nachname", "befunder", "befundarzt",
    "patientennummer", "anschrift", "adresse", "telefon", "prenom", "naissance", "medecin",
    "apellido", "nacimiento",
    # Japanese, Korean and Chinese headers as the sites' own systems write them: the patient's
    # id, number, name, code and kana; full name; birth date; chart; address; phone; resident
    # registration and record numbers; the attending, referring or reading doctor, the reader
    # and the radiographer. Not 患者 or 医師 alone: 患者体位 (patient position), 患者年齢 (age)
    # and 医師所見 (the doctor's findings) are data.
    "患者id", "患者番号", "患者名", "患者氏名", "患者コード", "患者カナ", "氏名", "名前",
    "姓名", "生年月日", "カルテ", "住所", "電話", "医師名", "主治医", "担当医", "依頼医",
    "紹介医", "読影医", "読影者", "撮影技師", "技師名",
    "환자번호", "환자id", "환자명", "환자이름", "환자성명", "이름", "성명", "생년월일",
    "주민등록", "등록번호", "주소", "전화", "의사명", "주치의", "담당의", "의뢰의", "판독의",
    "판독자",
    "病人姓名", "病人id", "病历", "病歴",
)  # fmt: skip
# ... and names that end in a person's role: reporting_doctor, second_reader, Radiologists,
# referring_physician (but not reader_confidence, doctor's note or physician_override)
_PERSON_ROLES = (
    "doctor", "doctors", "radiologist", "radiologists", "reader", "readers", "physician",
    "physicians", "technologist", "technologists", "technician", "technicians", "operator",
    "operators", "nurse", "nurses",
    # the same in the sites' languages: 主治医, 読影医師, 报告医生, 報告者, 担当技師 (not 医師所見,
    # the doctor's findings)
    "医", "医師", "医生", "者", "技師",
)  # fmt: skip
# names that end in a role or hold a part but name a thing: software that reads files, a
# machine's network address
_NOT_A_PERSON = frozenset(
    ("pacsreader", "dicomreader", "barcodereader", "cardreader", "ipaddress", "macaddress")
)


# The same read word by word (``reporting_radiologist_id``, ``RadiologistID``, ``mrn_no``):
# words that name an identity wherever they stand; a person's role as the last word or before a
# word of identity (``author``, ``doctor_id``, but not ``reader_confidence``); and a holder of
# identities before such a word (``patient_ref``, ``hospital_id``, but not ``patient_position``).
_IDENTITY_WORDS = frozenset(
    ("mrn", "nhs", "ssn", "dob", "yob", "nric", "aadhaar", "medicare", "npi", "bsn", "cpf",
     "personnummer", "passport", "kin", "guardian", "postcode", "zipcode", "mobile", "tel",
     "phone", "email", "mail", "empi", "accno", "accnum")
)  # fmt: skip
_ROLE_WORDS = frozenset(
    ("doctor", "radiologist", "reader", "physician", "technologist", "operator", "nurse",
     "author", "signer", "signatory", "radiographer", "sonographer", "clinician", "consultant",
     "surgeon", "reporter", "referrer", "requester", "attending", "user", "staff", "employee",
     "emp", "reviewer", "annotator", "labeler", "labeller", "rater", "grader", "provider",
     "dr", "md", "rad", "owner", "submitter", "transcriptionist", "scribe", "approver",
     "resident", "fellow", "verifier", "technician", "tech")
)  # fmt: skip
# words that hold an identity when an id word follows (``visit_id``, ``admission_no``; an
# encounter's number is an identifier too)
_HOLDER_WORDS = frozenset(
    ("patient", "pt", "pat", "subject", "person", "hospital", "chart", "visit", "encounter",
     "admission", "acc", "member", "case")
)  # fmt: skip
_ID_WORDS = frozenset(
    ("id", "ids", "no", "nr", "num", "number", "ref", "reference", "code", "key", "identifier",
     "uid", "name", "names", "initials", "email", "login", "account", "contact", "pid")
)  # fmt: skip
# words that hold a patient's record number only before a number word: mr_number, hosp_no,
# ur_number (Australia's unit record), unit_number (the UK's), emr_id, mpi_id (a master patient
# index; but mpi alone may be myocardial perfusion imaging, unit that of a measurement, and
# unit_id a department's)
_NUMBER_WORDS = frozenset(("no", "nr", "num", "number"))
_RECORD_WORDS = {
    word: _NUMBER_WORDS | ({"id", "ids", "identifier"} if word != "unit" else set())
    for word in ("mr", "ur", "unit", "hosp", "emr", "ehr", "mpi")
}


def _words(column: str) -> list[str]:
    """A column name's words case-folded: split at separators and at camelCase humps, a
    trailing plural s and a trailing number dropped (``RadiologistIDs`` -> radiologist, id;
    ``reader1`` -> reader)."""
    spaced = re.sub(
        r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])(?![A-Z]s(?![a-z]))", " ", column
    )
    words = [w.rstrip("0123456789") for w in re.findall(r"[^\W_]+", spaced.casefold())]
    words = [w for w in words if w]  # reader_1, reader1: a reader
    return [
        w[:-1] if len(w) > 3 and w.endswith("s") and w[:-1] in _ROLE_WORDS else w for w in words
    ]


# A person's name as a column's name, as a reader-study sheet in wide form writes one column per
# reader: after a title (Dr Tanaka Hanako, Prof. Kim, Dr_Sato) or before a degree (Suzuki Ichiro
# MD, Lee PhD), or with an honorific (田中先生, 김선생님). Case-sensitive, so that DR (digital
# radiography: DR_dose) and md_ (a measure) are not titles.
_TITLED = re.compile(
    r"^(Dr|Prof|Professor|Mr|Mrs|Ms|Miss)\.?[\s_]+\w|\w[\s_,]+(MD|M\.D\.|PhD|MBBS|FRCR|FRANZCR)\.?$"
    r"|\w(先生|선생님|교수님)$"
)


def titled_name(column: str) -> bool:
    """Whether a column's name is a person's name with a title, a degree or an honorific
    (:data:`_TITLED`): a column not stored whose name no message may quote."""
    return bool(_TITLED.search(unicodedata.normalize("NFKC", column).strip()))


def names_a_person(column: str) -> bool:
    """Whether an extra column's name says it holds a person's identity (``Patient Name``,
    ``DOB``, ``mrn``, ``accession_number``, ``referring_physician``, ``radiologist_id``,
    ``signer``, ``nhs_number``, ``patient_ref``, ``患者ID``, ``患者ＩＤ``, ``hosp_no``, ...)."""
    if titled_name(column):
        return True
    column = unicodedata.normalize("NFKC", column)
    bare = "".join(ch for ch in column.casefold() if ch.isalnum())
    if bare in _NOT_A_PERSON:
        return False
    # and without accents (prénom, médecin); kana keep theirs (フリガナ is not フリカナ)
    plain = "".join(
        ch for ch in unicodedata.normalize("NFKD", bare) if not unicodedata.combining(ch)
    )
    if (
        bare in _PERSON_NAMES
        or any(part in bare or part in plain for part in _PERSON_PARTS)
        or bare.endswith(_PERSON_ROLES)
    ):
        return True
    words = _words(column)
    if len(words) > 1 and words[-1] == "by":  # created_by, uploaded_by, reviewed_by
        return True
    for i, word in enumerate(words):
        after = words[i + 1] if i + 1 < len(words) else None
        if word in _IDENTITY_WORDS:
            return True
        if word in _ROLE_WORDS and (after is None or after in _ID_WORDS):
            return True
        if word in _HOLDER_WORDS and after in _ID_WORDS:
            return True
        if after in _RECORD_WORDS.get(word, ()):
            return True
    return False


STUDY_COLUMNS = (
    "site",
    "modality",
    "body_part",
    "scanner_manufacturer",
    "scanner_model",
    "scanner_software",
    "station",
    "institution",
    "study_datetime",
    "patient_age",
    "patient_sex",
    "patient_pid",
)
# Study columns a prediction file carries (DICOM adds institution; the patient is pseudonymised).
STUDY_FROM_PREDICTIONS = tuple(c for c in STUDY_COLUMNS if c not in ("institution", "patient_pid"))
