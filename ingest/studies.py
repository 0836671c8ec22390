"""Merge study metadata (from prediction files or DICOM headers) into the studies table."""

from __future__ import annotations

from typing import NamedTuple

import duckdb

from ingest.contract import STUDY_COLUMNS

# A source table's column that, when true, lets its row fill only what the stored study leaves empty
FILL_ONLY = "_fill_only"


class Merged(NamedTuple):
    """What :func:`upsert_studies` did: studies inserted, studies updated, and of those updated
    how many now name another patient, and how many another site, than the one stored (a
    correction, or a mix-up that the batch message reports: an accession number that two
    hospitals both use is one study_uid for two studies)."""

    inserted: int
    updated: int
    other_patient: int = 0
    other_site: int = 0


def upsert_studies(
    con: duckdb.DuckDBPyConnection, source_table: str, *, batch_id: int, source: str
) -> Merged:
    """Merge ``source_table`` (study_uid + any of STUDY_COLUMNS, one row per study) into studies.

    A value that the new source leaves empty keeps the value already stored; a value it gives
    replaces the stored one (:func:`_merged`). A source row whose boolean column
    ``_fill_only`` (:data:`FILL_ONLY`; optional, only DICOM staging has it) is true only fills
    the values the stored study leaves empty: a study known in this batch only by an AI
    product's reports or segmentations must not take the AI server as its scanner. Studies
    whose merged values equal the stored ones are not touched, so loading the same data twice
    changes nothing. Must run inside the caller's transaction.
    """
    present = {row[0] for row in con.execute(f"describe {source_table}").fetchall()}
    cols = ", ".join(("study_uid", *STUDY_COLUMNS, "source", "batch_id"))
    if not con.execute("select exists (select 1 from studies)").fetchall()[0][0]:
        # a first load: nothing to merge with, every study is new
        values = ", ".join(c if c in present else "null" for c in STUDY_COLUMNS)
        [(inserted,)] = con.execute(
            f"""
            insert into studies ({cols})
            select study_uid, {values}, $source, $batch_id from {source_table}
            """,
            {"source": source, "batch_id": batch_id},
        ).fetchall()
        return Merged(int(inserted), 0)
    exprs = [_merged(c, present) for c in STUDY_COLUMNS]
    merged = ", ".join(f"{v} as {c}" for v, c in zip(exprs, STUDY_COLUMNS, strict=True))
    new_vals = ", ".join(exprs)
    old_vals = ", ".join(f"o.{c}" for c in STUDY_COLUMNS)
    con.execute(
        f"""
        create or replace temp table _merged_studies as
        select n.study_uid, {merged},
               $source as source, $batch_id as batch_id,
               o.study_uid is null as _is_new,
               o.patient_pid is not null and {exprs[STUDY_COLUMNS.index("patient_pid")]}
                   <> o.patient_pid as _other_patient,
               o.site is not null and {exprs[STUDY_COLUMNS.index("site")]} <> o.site
                   as _other_site
        from {source_table} n
        left join studies o on o.study_uid = n.study_uid
        where o.study_uid is null or row({new_vals}) is distinct from row({old_vals})
        """,
        {"source": source, "batch_id": batch_id},
    )
    inserted, updated, other_patient, other_site = con.execute(
        "select count(*) filter (where _is_new), count(*) filter (where not _is_new), "
        "count(*) filter (where _other_patient), count(*) filter (where _other_site) "
        "from _merged_studies"
    ).fetchall()[0]
    if updated:
        con.execute(
            "delete from studies where study_uid in "
            "(select study_uid from _merged_studies where not _is_new)"
        )
    if inserted or updated:
        con.execute(f"insert into studies ({cols}) select {cols} from _merged_studies")
    con.execute("drop table _merged_studies")
    return Merged(int(inserted), int(updated), int(other_patient), int(other_site))


def _merged(column: str, present: set[str]) -> str:
    """The merged value of ``column``: the new source's when it gives one, else the stored one;
    except where the new value says less than the stored one:

    - a date without a time (00:00:00, as DICOM's StudyDate without StudyTime and a prediction
      file's bare date are read) does not replace a time of the same day;
    - a site that is a DICOM InstitutionName no site map renamed (``site = institution``) does
      not replace a site already stored (a prediction file's, or a mapped one): one hospital
      would show as two sites. Except a stored site that is the same InstitutionName read as
      Latin-1 (``institution_latin1``, a column of DICOM staging: the header declares no
      character set and was read without ``--encoding``), which the new reading corrects;
    - a row marked :data:`FILL_ONLY` replaces no stored value.
    """
    if column not in present:
        return f"o.{column}"
    value = _replacing(column, present)
    if FILL_ONLY in present:
        return f"case when n.{FILL_ONLY} then coalesce(o.{column}, n.{column}) else {value} end"
    return value


def _replacing(column: str, present: set[str]) -> str:
    """The merged value of ``column`` in a source row that may replace stored values
    (:func:`_merged`)."""
    value = f"coalesce(n.{column}, o.{column})"
    if column == "study_datetime":
        return (
            "case when n.study_datetime = date_trunc('day', n.study_datetime) "
            "and o.study_datetime::date = n.study_datetime::date then o.study_datetime "
            f"else {value} end"
        )
    if column == "site" and "institution" in present:
        kept = "n.site = n.institution and o.site is not null"
        if "institution_latin1" in present:
            kept += " and o.site is distinct from n.institution_latin1"
        return f"case when {kept} then o.site else {value} end"
    return value
