"""Read DICOM headers into the studies table: scanner, site and patient metadata per study.

Files and folders are walked recursively in sorted order. Only headers are read (pydicom 3,
``stop_before_pixels``); pixel data is never loaded. One row per StudyInstanceUID: the files of a
study (its series and instances) are merged in SQL, taking for each field the first non-empty
value of its image objects in sorted path order, then of its other objects (reports,
presentation states, segmentations, secondary captures: an AI product's objects name the AI
server, not the scanner; :func:`_is_derived`). The scanner columns and the modality come from
the scanner of most of the study's images, a tie going to the first by manufacturer and model,
whatever the files' names; a study whose images name two scanners is listed in the summary
(:func:`_study_scanners`), also when its files were loaded before (:func:`_scanners_again`). A study whose files in a call are all such
objects only fills what the stored study leaves empty, so a report loaded after its images (or
after a predictions file) replaces none of their values. Files of one study that name different patients
are reported (the study keeps the first file's patient) and make the call not ``ok``; so do
files of a stored study that name another patient than the one stored, which is kept. A data set written without preamble and file meta (as older systems
and some storage servers write them) is read when it starts with a group 0008 element. A
gzip-compressed file (``IM0001.dcm.gz``, known by its magic bytes, not its name) is read
through a streaming decompressor, up to its pixels (:func:`_gunzipped`). A DICOMDIR (a CD's
index of its files) is passed over and named in the summary, not skipped: the files it lists
are read from its folder, which a DICOMDIR given as a path stands for. Files it lists that are
not there (a CD copied in part) are counted and the first few named, and make the call not
``ok`` (:func:`ingest.dicom_paths.check_media`); files beside it that it does not list and that
are not DICOM (the CD's viewer software: ``autorun.inf``, ``*.exe``, ``index.html``) are
counted in the summary and passed over, not skipped.
Non-DICOM, truncated or unreadable files and files without a
StudyInstanceUID are reported and skipped, never fatal. A file whose header is whole but which
holds no pixel data is read: a header-only export (metadata extracts, pixel data stripped) is
as good as the whole object for the header, and all the fields read here come before the image
elements, so a file cut after its header has lost none of them.

Loading the same files again changes nothing: a batch is known by its files' paths and header
bytes (with their sizes), so the pixel data is not read even to hash it, and by how they are
read (the site map, ``encoding``): :func:`_batch_hash`. A DX or MG image is
10-50 MB and its header a few KB; a change in the pixels alone changes nothing stored here.
Unless a later batch (a predictions file, other DICOM files) changed the values of a study of
those files: they are then loaded again, and their values replace the later ones, as a file
sent again is (:func:`_studies_changed_since`).

A text value (:data:`TEXT_FIELDS`: InstitutionName, StationName, SoftwareVersions, ...) that is
or holds a PatientID of the same call, or a patient or reader id whose pseudonym the store holds,
is not stored, as a file's row holding one is quarantined: the study takes the field from
another of its files, or keeps what it had, and the summary lists the fields, never the id
(:func:`_withhold`).

From 4,000 files on, ``radqa ingest dicom`` parses headers in one worker process per core
(pydicom parses in Python, about 1 ms a file): 20,000 files took 12.6 s, against 21.9 s in one
process.

All files given in one call form one batch, written in one transaction through
:func:`ingest.studies.upsert_studies`, so a value the DICOM headers leave empty keeps what a
predictions file stored, and vice versa. The raw PatientID is turned into its keyed pseudonym as
soon as it is read; it is never stored, logged or shown. PatientName is read only to recognise
the patient in a path: a folder or file named after a patient is shown and stored as
``<patient>`` (:func:`redact`).

Text is decoded in the header's Specific Character Set. A header that declares none (or the
default, ISO_IR 6) but holds text beyond ASCII is read as UTF-8 when all of that text is valid
UTF-8, else in ``encoding`` (``--encoding cp932``: Japanese modalities write Shift-JIS this way,
Korean ones cp949) when one is given, else as Latin-1, which the summary says
(:func:`_undeclared_text`).

Conventions chosen here:

- ``scanner_software``: a multi-valued SoftwareVersions is joined with a backslash, as DICOM
  itself encodes multiple values (PS3.5 6.4), e.g. ``V1.2\\build 7``.
- ``patient_sex``: M, F or O as sent; any other non-empty value becomes U; an absent or empty
  PatientSex stays empty (unknown), so it does not overwrite a value another source gave.
- ``patient_age``: PatientAge ``nnnY`` gives nnn years; ``nnnM``, ``nnnW``, ``nnnD`` give whole
  years (``018M`` is 1, ``006M`` is 0); anything else, or more than 130 years, is empty.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import multiprocessing
import os
import struct
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import IO, cast

import duckdb
import pandas as pd
from pydicom import Dataset, dcmread
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.errors import BytesLengthException, InvalidDicomError
from pydicom.filereader import read_partial
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag
from pydicom.uid import UID

from ingest.dicom_paths import (
    FileSource,
    Mark,
    check_media,
    patient_labels,
    person_marks,
    redact,
    walk_files,
)
from ingest.dicom_values import (
    Withheld,
    header_text,
    parse_age,
    parse_sex,
    parse_study_datetime,
    withhold_ids,
)
from ingest.encodings import codec_name
from ingest.pseudonym import check_key_source, hmac_pads, pseudonymise, store_key
from ingest.studies import FILL_ONLY, upsert_studies
from radqa import derived, store
from radqa.settings import Settings, load_settings

KIND = "dicom"
MAX_SHOWN = 20
MAX_FILE_NAME = 200
UNDEFINED_LENGTH = 0xFFFFFFFF

# studies column <- DICOM keyword (text fields copied as sent, stripped)
TEXT_FIELDS = {
    "modality": "Modality",
    "scanner_manufacturer": "Manufacturer",
    "scanner_model": "ManufacturerModelName",
    "scanner_software": "SoftwareVersions",
    "station": "StationName",
    "institution": "InstitutionName",
    "body_part": "BodyPartExamined",
}
FILE_COLUMNS = (
    *TEXT_FIELDS,
    "study_datetime",
    "patient_sex",
    "patient_age",
    "patient_pid",
    # the pseudonym the PatientID gets read as Latin-1, as without --encoding; the same as
    # patient_pid when the header was not read in an --encoding (:func:`_keep_stored_patients`)
    "patient_pid_latin1",
    # the InstitutionName read as Latin-1, as without --encoding; the same as institution when
    # the header was not read in an --encoding (:func:`ingest.studies.upsert_studies` lets the
    # new reading replace a site stored as this one)
    "institution_latin1",
)


@dataclass
class DicomSummary:
    """What one ``ingest_dicom`` call did."""

    files_seen: int = 0
    files_read: int = 0
    studies: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    folders: list[tuple[str, str]] = field(default_factory=list)  # not read, with the reason
    notes: list[tuple[str, str]] = field(default_factory=list)  # links to loops: all was read
    # DICOMDIRs (a CD's or DVD's index of its files): passed over, not skipped, as the files
    # they index are read from their folders
    media: list[str] = field(default_factory=list)
    # the files the DICOMDIRs list, and those of them not found in their folders (a CD copied in
    # part); ``missing``: a line per DICOMDIR that lacks some, (its path, what it lacks).
    # init=False: dataclasses.replace leaves it empty, as radqa.cli.render_dicom does with the
    # problems it prints on stderr (problem_lines), so that they are not on stdout too
    listed_files: int = 0
    missing_files: int = 0
    missing: list[tuple[str, str]] = field(default_factory=list, init=False)
    # files in a DICOMDIR's folder that no DICOMDIR lists and that are not DICOM (a CD's viewer
    # software): passed over, not skipped
    viewer_files: int = 0
    # studies of two patients: a line per conflict, so a study whose files disagree among
    # themselves and with the patient stored has two; conflict_studies counts each study once
    conflicts: list[str] = field(default_factory=list)
    conflict_studies: int = 0
    unmapped: list[str] = field(default_factory=list)  # InstitutionNames the [site_map] lacks
    # studies whose images name more than one scanner, a line each (:func:`_scanner_notes`):
    # not an error (a series acquired again on another scanner), but their scanner is a choice
    scanners: list[str] = field(default_factory=list)
    # a line per header field that held a patient or reader id in some files, not stored
    # (:func:`_withhold`); withheld_studies: the studies concerned, each once
    withheld: list[str] = field(default_factory=list)
    withheld_studies: int = 0
    # files read whose text is in a character set they do not declare, not UTF-8, and was read
    # as Latin-1 for want of an ``encoding``
    undeclared: int = 0
    batch_id: int | None = None
    snapshot_id: str | None = None
    status: str = "committed"  # committed, unchanged, empty
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when no file was skipped, no file a DICOMDIR lists is missing, no study's files
        disagree on the patient (with each other or with the patient stored), no header field
        held a patient or reader id, and something was found."""
        return (
            not self.skipped
            and not self.folders
            and not self.missing
            and not self.conflicts
            and not self.withheld
            and self.status != "empty"
        )

    def render(self) -> str:
        """A short text summary: the studies whose files disagree on the patient, the
        InstitutionNames the site map lacks (when there is one), then the first 20 skipped files and the first 20 folders not read, with their reasons, then the first 20
        links not followed (loops: nothing was left unread, so they are notes, not errors)."""
        lines = [self.message]
        lines.extend(f"  {conflict}" for conflict in self.conflicts[:MAX_SHOWN])
        if len(self.conflicts) > MAX_SHOWN:  # lines: a study may have two
            lines.append(f"  ... and {len(self.conflicts) - MAX_SHOWN} more (see quarantine)")
        lines.extend(f"  {line}" for line in self.withheld)  # a line per field: a few
        lines.extend(f"  {note}" for note in self.scanners[:MAX_SHOWN])
        if len(self.scanners) > MAX_SHOWN:
            lines.append(f"  ... and {len(self.scanners) - MAX_SHOWN} more studies of two scanners")
        if self.unmapped:
            lines.append(
                f"note: {len(self.unmapped)} InstitutionName(s) matched no [site_map] entry "
                "(case and spaces ignored); a study not stored before takes the name itself as its site:"
            )
            lines.extend(f"  {name}" for name in self.unmapped[:MAX_SHOWN])
            if len(self.unmapped) > MAX_SHOWN:
                lines.append(f"  ... and {len(self.unmapped) - MAX_SHOWN} more")
        lines += self.problem_lines()
        lines += _listed(
            f"note: did not follow {len(self.notes)} link(s) into their own folder "
            "(its files were read once):",
            self.notes,
            more="",
        )
        if self.snapshot_id:
            lines.append(f"published snapshot {self.snapshot_id}")
        return "\n".join(lines)

    def problem_lines(self) -> list[str]:
        """The first 20 skipped files, folders not read and DICOMDIRs whose files are missing,
        with their reasons (:meth:`render` lists them; ``radqa ingest dicom`` prints them on
        stderr)."""
        return (
            _listed(f"skipped {len(self.skipped)} file(s):", self.skipped)
            + _listed(f"did not read {len(self.folders)} folder(s):", self.folders)
            + _listed(
                f"missing {self.missing_files} of the {self.listed_files} file(s) listed in "
                f"{len(self.missing)} DICOMDIR(s):",
                self.missing,
            )
        )


def _listed(
    title: str, items: list[tuple[str, str]], *, more: str = " (see quarantine)"
) -> list[str]:
    """``title`` and the first :data:`MAX_SHOWN` (path, reason) of ``items``; none if empty.
    ``more``: where the others are listed."""
    if not items:
        return []
    lines = [title, *(f"  {path}: {reason}" for path, reason in items[:MAX_SHOWN])]
    if len(items) > MAX_SHOWN:
        lines.append(f"  ... and {len(items) - MAX_SHOWN} more{more}")
    return lines


class _Skip(Exception):
    """A file that cannot be used; the message is the reason shown to the user. ``identity``:
    that of the bytes read (:func:`_identity`), None when the file could not be opened."""

    def __init__(self, reason: str, identity: str | None = None) -> None:
        super().__init__(reason)
        self.identity = identity
        self.listed: tuple[str, ...] | None = None  # a DICOMDIR's files (_media_listing)


def ingest_dicom(
    data_dir: Path,
    paths: Sequence[str | Path],
    *,
    settings: Settings | None = None,
    publish: bool = True,
    workers: int = 1,
    encoding: str | None = None,
) -> DicomSummary:
    """Read the DICOM headers under ``paths`` and merge one row per study into the studies table.

    Parameters
    ----------
    data_dir
        The RadQA data dir (working database, pseudonymisation key, ``radqa.toml``).
    paths
        DICOM files or folders; folders are walked recursively in sorted order.
    settings
        Settings to use (``site_map`` maps InstitutionName to site); default: read from data_dir.
    publish
        Publish a snapshot for readers after the batch commits.
    workers
        Processes that parse headers when there are :data:`PARALLEL_FROM` files or more (the
        command uses one per core). They are spawned, so a script that passes more than 1 must
        call this under ``if __name__ == "__main__":``, as :mod:`multiprocessing` requires.
    encoding
        The character set (a Python codec name, ``cp932``) of the text of headers that declare
        none and whose text beyond ASCII is not UTF-8 (:func:`_undeclared_text`); InputError,
        before anything is written, when Python knows no such text encoding. A value that is
        not text in it either skips its file.

    Returns
    -------
    DicomSummary
        Counts, skipped files with reasons, batch and snapshot ids.
    """
    data_dir = Path(data_dir)
    codec = codec_name(encoding) if encoding else None  # refused before anything is written
    settings = settings or load_settings(data_dir)
    summary = DicomSummary()
    files = walk_files(paths, summary.skipped, summary.folders, summary.notes)
    summary.files_seen = len(files) + len(summary.skipped)  # missing paths, pipes, bad archives
    label = _shorten(", ".join(str(p) for p in paths))
    if not files:
        summary.status = "empty"
        summary.message = f"{label}: no files found; nothing loaded"
        return summary

    check_key_source(data_dir)  # a bad key is refused before the database is made
    con = store.connect_working(data_dir)
    try:  # the store's own key, checked (ingest.pseudonym.store_key); the lock is not kept
        key = store_key(con, data_dir)  # while the headers are read
    finally:
        con.close()
    started = _now()
    rows: list[dict[str, object]] = []
    identities: list[tuple[str, str]] = []
    people: set[Mark] = set()  # the patient ids and names read, for redact
    listings: dict[int, tuple[str, ...]] = {}  # the files each DICOMDIR lists, by its index
    not_read: list[tuple[int, str, str]] = []  # (index, path, why) of the files not read
    read = _read_all([source for _, source in files], key, workers, codec)
    for order, ((rel, _), (row, identity, reason, words, listed)) in enumerate(
        zip(files, read, strict=True)
    ):
        if row is not None:
            rows.append({"_ord": order, **row})
            summary.undeclared += bool(row.pop(LATIN1_GUESS))
        if reason == MEDIA_INDEX:
            summary.media.append(rel)
            if listed is not None:
                listings[order] = listed
        elif reason is not None:
            not_read.append((order, rel, reason))
        if identity is not None:
            identities.append((rel, identity))
        people |= words
    summary.files_read = len(rows)
    missing, unlisted = _check_media(summary, files, listings)
    for order, rel, reason in not_read:
        if order in unlisted and reason.startswith(NOT_DICOM):  # a CD's viewer software
            summary.viewer_files += 1
        else:
            summary.skipped.append((rel, reason))
    # folders named after the patient ("12345 YAMADA^TARO/", as some PACS exports lay them
    # out): the paths shown and stored name none of them
    # ... numbered when there are several (<patient 2>), so that their files can be told apart
    labels = patient_labels(
        [
            *(str(p) for p in paths),
            *(rel for rel, _ in [*summary.skipped, *summary.folders, *summary.notes]),
            *summary.media,
            *(name for _, _, names in missing for name in names),
        ],
        people,
    )
    summary.skipped = [(redact(rel, people, labels), why) for rel, why in summary.skipped]
    summary.folders = [(redact(rel, people, labels), why) for rel, why in summary.folders]
    summary.notes = [(redact(rel, people, labels), note) for rel, note in summary.notes]
    summary.media = [redact(rel, people, labels) for rel in summary.media]
    summary.missing = [
        (redact(rel, people, labels), _missing_words(total, names, people, labels))
        for rel, total, names in missing
    ]
    # each path on its own: redacting the joined label took the ", " after a patient's folder
    label = _shorten(", ".join(redact(str(p), people, labels) for p in paths))
    own_ids = sorted({mark[1] for mark in people if mark[0] == "id"})  # for withhold_ids
    people.clear()
    pads = hmac_pads(key)
    # the batch is its files' paths and header bytes: the pixels are never read, not even to
    # hash them (a DX image is 10-30 MB; its header a few KB)
    chash = _batch_hash(identities, settings, codec)

    con = store.connect_working(data_dir)
    try:
        prior = store.loaded_batch(con, KIND, chash)
        resent = None  # a batch of the same files whose studies a later batch changed
        if prior is not None and _studies_changed_since(con, prior.batch_id, rows):
            resent = prior.batch_id
        if prior is not None and resent is None:
            summary.status = "unchanged"
            summary.batch_id = prior.batch_id
            summary.conflicts = _recorded_conflicts(con, prior.batch_id)
            summary.conflict_studies = _conflict_studies(con, prior.batch_id)
            summary.message = (
                (
                    f"{label}: {len(files)} file(s) already loaded as batch {summary.batch_id} "
                    "(same content); nothing changed" + _still_not_read(summary)
                )
                + _undeclared_note(summary)
                + _media_note(summary)
                + _viewer_note(summary)
                + _missing_note(summary)
            )
            if summary.conflicts:
                summary.message += (
                    f"; {summary.conflict_studies} of its studies named more than one patient "
                    "when it was loaded (listed below; see quarantine)"
                )
            summary.withheld = _recorded_withheld(con, prior.batch_id)
            if n := len(summary.withheld):
                summary.message += (
                    f"; {n} of its header fields held a patient or reader id (not shown) when it "
                    "was loaded, not stored (listed below; see quarantine)"
                )
            summary.scanners = _scanners_again(con, rows, own_ids, pads)
            summary.message += _scanners_note(summary)
            summary.files_read = 0
        else:
            _write_batch(
                con,
                rows,
                summary,
                settings,
                label=label,
                chash=chash,
                started=started,
                own_ids=own_ids,
                pads=pads,
                resent=resent,
            )
            if publish:
                summary.snapshot_id = store.publish_snapshot(con, data_dir).snapshot_id
        if publish:  # the catch-up publish, and the cases file (scanner columns may change)
            summary.snapshot_id, notes = derived.finish_writes(con, data_dir, summary.snapshot_id)
            summary.message += "".join(f"; {note}" for note in notes)
    finally:
        con.close()
    return summary


# Raised when a change in how headers are read changes what a batch stores (2: image objects
# before reports, undeclared UTF-8 read as UTF-8), so that files loaded before are read again
READING_RULES = 4  # 3: the site map matched ignoring case and spacing; 4: a study's scanner
# is that of most of its images (_study_scanners), gzip-compressed files are read


def _batch_hash(
    identities: list[tuple[str, str]], settings: Settings, codec: str | None = None
) -> str:
    """The batch's content hash, ``<files>+<reading>`` as :func:`ingest.load._batch_hash` makes
    them: the digest of its files' paths and identities (:func:`_identity`), then that of how
    they are read (:data:`READING_RULES`, the ``[site_map]`` and the ``encoding`` of headers that
    declare no character set, Python's name of it). :func:`radqa.store.loaded_batch` takes a
    file set as loaded only when the latest batch of the same files has this hash, so the files
    are read again after the site map or the encoding changed, and again when it changes back:
    files loaded as Latin-1 are read again with ``--encoding cp932``, and their values replaced.
    Without an encoding the hash is what it was before there was one."""
    files = hashlib.sha256()
    for rel, identity in sorted(identities):
        files.update(f"{rel}\0{identity}\n".encode())
    reading = f"rules {READING_RULES}\nsite_map {json.dumps(sorted(settings.site_map.items()))}"
    if codec is not None:
        reading += f"\nencoding {codec}"
    return store.batch_hash(files.hexdigest(), reading)


def _undeclared_note(summary: DicomSummary) -> str:
    """The summary's note on files whose undeclared, non-UTF-8 text was read as Latin-1
    (:func:`_undeclared_text`); empty when there were none."""
    if not summary.undeclared:
        return ""
    return (
        f"; {summary.undeclared} file(s) hold text in an undeclared character set that is not "
        "UTF-8, read as Latin-1 (letters may be wrong): run again with --encoding cp932 "
        "(Japanese) or cp949 (Korean)"
    )


def _media_note(summary: DicomSummary) -> str:
    """The summary's note on the DICOMDIRs passed over (a CD's or DVD's index: the image files
    it lists are read from its folder, so nothing is missing); empty when there were none."""
    if not summary.media:
        return ""
    shown = ", ".join(summary.media[:3]) + (", ..." if len(summary.media) > 3 else "")
    return (
        f"; {len(summary.media)} DICOMDIR(s) passed over (a CD's or DVD's index of its files, "
        f"not a study's object; the files of its folder are read): {shown}"
    )


def _check_media(
    summary: DicomSummary,
    files: list[tuple[str, FileSource]],
    listings: dict[int, tuple[str, ...]],
) -> tuple[list[tuple[str, int, list[str]]], set[int]]:
    """(path, files listed, those of them missing) of each DICOMDIR among ``files`` (its index
    there, with the files it lists: ``listings``) that lists a file not among them, and the
    indices of the files in a DICOMDIR's folder that none lists
    (:func:`ingest.dicom_paths.check_media`); counts all the files the DICOMDIRs list, and
    those missing, in ``summary``. Nothing is checked without a DICOMDIR."""
    if not listings:
        return [], set()
    check = check_media(files, listings)
    summary.listed_files = sum(total for _, total, _ in check.missing)
    summary.missing_files = sum(len(names) for _, _, names in check.missing)
    missing = [(files[index][0], total, names) for index, total, names in check.missing if names]
    return missing, check.unlisted


MISSING_SHOWN = 5  # the files a DICOMDIR lacks that are named, in its order


def _missing_words(total: int, names: list[str], people: set[Mark], labels: dict[str, str]) -> str:
    """What a DICOMDIR lacks: how many of the ``total`` files it lists are not in its folder,
    and the first :data:`MISSING_SHOWN` of them, as it names them (relative to its folder),
    each folder or file named after a patient hidden (:func:`redact`)."""
    shown = ", ".join(redact(name, people, labels) for name in names[:MISSING_SHOWN])
    more = f", ... ({len(names) - MISSING_SHOWN} more)" if len(names) > MISSING_SHOWN else ""
    return (
        f"{len(names)} of the {total} file(s) it lists are missing from its folder (a CD or "
        f"DVD copied in part? copy all of it): {shown}{more}"
    )


def _viewer_note(summary: DicomSummary) -> str:
    """The summary's count of the files of a CD that are not DICOM and that its DICOMDIR does
    not list (its viewer software), passed over; empty when there were none."""
    n = summary.viewer_files
    if not n:
        return ""
    what = "1 file of the CD that is" if n == 1 else f"{n} files of the CD that are"
    return f"; {what} not DICOM (viewer software, not listed in its DICOMDIR) passed over"


def _missing_note(summary: DicomSummary) -> str:
    """The summary's count of the files the DICOMDIRs list that are missing from their folders
    (listed with the problems); empty when none is."""
    if not summary.missing:
        return ""
    where = (
        "the DICOMDIR are missing from its folder"
        if len(summary.media) == 1
        else f"{len(summary.media)} DICOMDIRs are missing from their folders"
    )
    return f"; {summary.missing_files} of the {summary.listed_files} file(s) listed in {where}"


def _still_not_read(summary: DicomSummary) -> str:
    """What a batch loaded before left out, to add to its 'already loaded' message: the same
    content, so the files skipped and folders not read now (listed after it) are those of then."""
    parts = []
    if summary.skipped:
        parts.append(f"{len(summary.skipped)} of its files were skipped")
    if summary.folders:
        parts.append(f"{len(summary.folders)} folder(s) were not read")
    if not parts:
        return ""
    return f"; {' and '.join(parts)} when it was loaded, and still are (see quarantine)"


MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage (DICOMDIR)
# The reason a DICOMDIR is not read as a study: it is passed over (DicomSummary.media), not
# counted as skipped; the image files it indexes are in its folder, which is walked
MEDIA_INDEX = "a DICOMDIR (an index of the files on a medium), not a study's object"


def _sop_class(ds: Dataset) -> str | None:
    """The object's SOP class UID, from the file meta or the data set."""
    meta = getattr(ds, "file_meta", None)
    uid = getattr(meta, "MediaStorageSOPClassUID", None) or ds.get("SOPClassUID")
    return str(uid) if uid else None


# From this many files on, headers are parsed in worker processes (``workers``; the command uses
# one per core): pydicom parses in Python (about 1 ms a file), and starting them costs a second.
PARALLEL_FROM = 4000


# One file read: its studies fields (None when skipped; with :data:`LATIN1_GUESS`), its identity
# (None when it could not be opened), why it was skipped (None when read), the marks naming its
# patient (redact) and, for a DICOMDIR, the files it lists (:func:`_media_listing`; else None).
_Read = tuple[dict[str, object] | None, str | None, str | None, set[Mark], tuple[str, ...] | None]

# The key of a file's fields that tells whether its undeclared, non-UTF-8 text was read as
# Latin-1 for want of an encoding (:func:`_undeclared_text`); not a studies column
LATIN1_GUESS = "_latin1_guess"


def _read_all(
    paths: list[FileSource], key: bytes, workers: int, codec: str | None = None
) -> list[_Read]:
    """:func:`_read_one` of each of ``paths``, in order; in ``workers`` processes when there are
    :data:`PARALLEL_FROM` or more."""
    try:
        if len(paths) < PARALLEL_FROM or workers < 2:
            return [_read_one(path, key, codec) for path in paths]
        # spawn, not fork: the parent may hold DuckDB's threads, which a forked child would lack
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return list(pool.map(_read_one, paths, repeat(key), repeat(codec), chunksize=256))
    finally:
        _close_archives()


# ZIP archives open in this process, by path: their files come in order, so one stays open while
# its files are read instead of its directory being read again for each
_ARCHIVES: dict[Path, zipfile.ZipFile] = {}


def _open(source: FileSource) -> tuple[IO[bytes], int]:
    """``source`` open for reading its bytes, and its size."""
    if isinstance(source, Path):
        fh = open(source, "rb")  # noqa: SIM115 (the caller closes it)
        return fh, os.fstat(fh.fileno()).st_size
    if source.archive not in _ARCHIVES:
        _close_archives()
        _ARCHIVES[source.archive] = zipfile.ZipFile(source.archive)
    archive = _ARCHIVES[source.archive]
    return archive.open(source.name), archive.getinfo(source.name).file_size


GZIP_MAGIC = b"\x1f\x8b"


def _gunzipped(fh: IO[bytes], size: int) -> tuple[IO[bytes], int] | None:
    """The decompressed stream of ``fh`` and its size when the file is gzip-compressed (known
    by its first two bytes, 1f 8b, whatever its name: ``IM0001.dcm.gz``, pydicom's
    ``zipMR.gz``); None otherwise, ``fh`` back at its start. The stream is decompressed as it is
    read, so reading the header decompresses the header only, never the pixels after it. The
    size is the gzip trailer's (ISIZE: the decompressed size modulo 2**32), read without
    decompressing anything."""
    head = fh.read(2)
    fh.seek(0)
    if head != GZIP_MAGIC or size < 18:  # 10-byte header and 8-byte trailer
        return None
    fh.seek(size - 4)
    trailer = fh.read(4)
    fh.seek(0)
    stream = cast(IO[bytes], gzip.GzipFile(fileobj=fh, mode="rb"))  # read, seek, tell
    return stream, int.from_bytes(trailer, "little")


GZIP_DAMAGED = "a gzip-compressed file that cannot be decompressed (cut short or corrupt)"


def _gzip_failure(exc: BaseException) -> bool:
    """Whether ``exc``, raised reading a gzip-compressed file, is the gzip stream's failure
    (bad header or data, cut short), not the DICOM header's inside a good stream."""
    return isinstance(exc, gzip.BadGzipFile | zlib.error) or (
        isinstance(exc, EOFError) and "end-of-stream marker" in str(exc)
    )


def _close_archives() -> None:
    for archive in _ARCHIVES.values():
        archive.close()
    _ARCHIVES.clear()


def _read_one(path: FileSource, key: bytes, codec: str | None = None) -> _Read:
    """One file's :data:`_Read` (:func:`_read_header`, its _Skip turned into a reason).

    pydicom's warnings are silenced (``Invalid value for VR CS``, ``The value length (70)
    exceeds the maximum length of 64 allowed for VR LO``): they would land on the command's
    stderr, which holds the files skipped and the ``warning:`` lines only (a cron job mails it),
    they may quote a header's values (a name), and a value read as sent is what is wanted."""
    people: set[Mark] = set()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row, identity = _read_header(path, key, people, codec)
    except _Skip as exc:
        return None, exc.identity, str(exc), people, exc.listed
    return row, identity, None, people, None


def _read_header(
    path: FileSource, key: bytes, people: set[Mark], codec: str | None = None
) -> tuple[dict[str, object], str]:
    """The studies fields of one file (:func:`_fields`) and the file's identity (:func:`_identity`
    of its header: the bytes pydicom read, up to the pixel data); raises _Skip, which carries
    the identity of what was read."""
    try:
        fh, size = _open(path)
    except (OSError, RuntimeError, zipfile.BadZipFile) as exc:  # RuntimeError: encrypted
        raise _Skip(f"cannot read the file: {getattr(exc, 'strerror', None) or exc}") from None
    with fh:
        raw_size, gz = size, None
        try:
            if (gunzipped := _gunzipped(fh, size)) is not None:
                gz, size = gunzipped
            stream = gz or fh
            try:
                ds = _dcmread(stream)
                identity = _identity(stream, stream.tell(), size)
                ended = stream.tell() >= size
            except InvalidDicomError:
                reason = _not_dicom(stream, gz is not None)
                raise _Skip(reason, _identity(fh, PREFIX, raw_size)) from None
            except Exception as exc:  # noqa: BLE001 (any parser failure means: skip this file)
                if gz is not None and _gzip_failure(exc):
                    raise _Skip(GZIP_DAMAGED, _identity(fh, PREFIX, raw_size)) from None
                people.update(_patient_words_before_failure(stream))
                raise _Skip(
                    f"cannot read the DICOM header: {_damage(exc)}",
                    _identity(fh, PREFIX, raw_size),
                ) from None
        finally:
            if gz is not None:
                gz.close()
    try:
        return _fields(ds, key, people, size=size if ended else None, codec=codec), identity
    except _Skip as exc:
        exc.identity = identity
        raise


_ZIP_START = b"PK\x03\x04"


def _not_dicom(fh: IO[bytes], gzipped: bool = False) -> str:
    """Why the file open in ``fh`` (``gzipped``: the decompressed stream of a gzip file) is not
    read as DICOM: a ZIP archive that the walk could not open (cut short: its table of contents
    is at its end), or not DICOM at all."""
    try:
        fh.seek(0)
        start = fh.read(4)
    except Exception:  # noqa: BLE001 (a gzip stream damaged further on)
        start = b""
    if start == _ZIP_START and not gzipped:
        return "a damaged ZIP archive (cut short or corrupt: its list of files cannot be read)"
    if gzipped:
        return f"{NOT_DICOM}: a gzip file whose content has no 'DICM' prefix"
    return f"{NOT_DICOM} (no 'DICM' prefix after the 128-byte preamble)"


# How the reasons of :func:`_not_dicom` begin for a file that is not DICOM at all (a CD's viewer
# software is passed over by it: :func:`_check_media`)
NOT_DICOM = "not a DICOM file"


def _damage(exc: Exception) -> str:
    """What a pydicom parser failure means, in words (its exception names no element)."""
    if isinstance(exc, BytesLengthException):
        return "the header is damaged: an element's length does not fit its value type"
    if isinstance(exc, OSError | EOFError | struct.error):
        return (
            "the header is damaged: an element's length runs past the end of the file, or the "
            "next element cannot be read"
        )
    if isinstance(exc, NotImplementedError):
        return "the header is in an encoding (transfer syntax) that cannot be read here"
    if isinstance(exc, UnicodeError | LookupError):
        return "its text cannot be decoded in the character set it declares"
    return f"the header is damaged ({type(exc).__name__})"


def _fields(
    ds: Dataset,
    key: bytes,
    people: set[Mark],
    *,
    size: int | None = None,
    codec: str | None = None,
) -> dict[str, object]:
    """The studies fields of a header read whole (PatientID already pseudonymised), with
    :data:`LATIN1_GUESS`; raises _Skip. First adds the words of its PatientID and PatientName to
    ``people`` (:func:`redact`), whatever else is wrong with it: a skipped file is shown by its
    path, which may name the patient. ``size``: the file's, when pydicom read it to its end.
    ``codec``: the character set of undeclared text that is not UTF-8 (:func:`_undeclared_text`)."""
    cut = _cut_element(ds)  # before any value is decoded: decoding replaces the raw elements
    undeclared = _undeclared_text(ds)  # read as UTF-8, in codec, or left to pydicom (Latin-1)
    charset = {UNDECLARED_UTF8: "utf_8", UNDECLARED_OTHER: codec}.get(undeclared or "")
    not_text = latin1_id = latin1_name = None
    if charset is not None and charset != "utf_8":
        not_text = _not_text_in(ds, charset)
        latin1_id = _as_latin1(ds, "PatientID")
        latin1_name = _as_latin1(ds, "InstitutionName")
    if charset is not None:  # pydicom decodes the header's text in this Python codec
        implicit, little = ds.original_encoding
        ds.set_original_encoding(implicit, little, charset)
    with warnings.catch_warnings():
        # pydicom's warnings that it decodes these with replacement characters (on stderr, with
        # its source paths) would say no more: a PatientID that is not text in the encoding
        # skips the file below with the reason, and PatientName is read only to find the
        # patient in a path (never stored), so a wrong letter there costs nothing
        warnings.filterwarnings("ignore", category=UserWarning, module="pydicom")
        patient_id = _decodable(ds, "PatientID")
        people.update(person_marks(patient_id, _decodable(ds, "PatientName")))
    if cut is not None:
        raise _Skip(f"truncated: the file ends inside element {cut}")
    if not_text is not None:
        raise _Skip(
            f"cannot read the DICOM header: its {not_text} is not {charset} text (--encoding) "
            "and the header declares no character set; load it with the encoding its system "
            "writes"
        )
    try:
        study_uid = header_text(ds, "StudyInstanceUID")
        if study_uid is None and _sop_class(ds) == MEDIA_DIRECTORY:
            media = _Skip(MEDIA_INDEX)
            media.listed = _media_listing(ds, people)
            raise media
        if study_uid is None and size is not None and (short := _ended_early(ds, size)):
            raise _Skip(short)
        if study_uid is None:
            raise _Skip("no StudyInstanceUID (0020,000D); expected one in every DICOM object")
        row: dict[str, object] = {"study_uid": study_uid}
        for column, keyword in TEXT_FIELDS.items():
            row[column] = header_text(ds, keyword)
        if isinstance(row["modality"], str):  # a code string (CS): 'ct' is CT, as in a CSV
            row["modality"] = row["modality"].upper()
        row["study_datetime"] = parse_study_datetime(
            header_text(ds, "StudyDate"), header_text(ds, "StudyTime")
        )
        row["patient_sex"] = parse_sex(header_text(ds, "PatientSex"))
        row["patient_age"] = parse_age(header_text(ds, "PatientAge"))
        row["_derived"] = _is_derived(row["modality"], _sop_class(ds))
        patient_id = header_text(ds, "PatientID")  # raises here when it cannot be decoded
        row["patient_pid"] = None if patient_id is None else pseudonymise(key, patient_id)
        row["patient_pid_latin1"] = (
            row["patient_pid"] if latin1_id is None else pseudonymise(key, latin1_id)
        )
        row["institution_latin1"] = row["institution"] if latin1_name is None else latin1_name
        row[LATIN1_GUESS] = undeclared == UNDECLARED_OTHER and codec is None
    except _Skip:
        raise
    except Exception as exc:  # noqa: BLE001 (a value pydicom cannot convert)
        raise _Skip(f"cannot read the DICOM header: {_damage(exc)}") from None
    return row


def _media_listing(ds: Dataset, people: set[Mark]) -> tuple[str, ...] | None:
    """The files DICOMDIR ``ds`` lists (its records' ReferencedFileID, ``DICOM/IM00001``:
    relative to its folder), in its order, records marked not in use left out; None when its
    records cannot be read. Adds the marks (:func:`person_marks`) of its patient records to
    ``people``: a CD's folders may be named after its patients, and a file it lists that is
    missing is shown by its path, with no header of that patient read."""
    listed = []
    try:
        for record in ds.get("DirectoryRecordSequence") or ():
            if "PatientID" in record or "PatientName" in record:
                people.update(
                    person_marks(_decodable(record, "PatientID"), _decodable(record, "PatientName"))
                )
            file_id = record.get("ReferencedFileID")
            if not file_id or record.get("RecordInUseFlag") == 0:
                continue
            parts = file_id if isinstance(file_id, MultiValue | list | tuple) else [file_id]
            listed.append("/".join(str(part).strip() for part in parts))
    except Exception:  # noqa: BLE001 (a damaged record: the files it lists are unknown)
        return None
    return tuple(listed)


# Modalities of objects that are not images from the scanner: reports (SR, DOC), presentation
# states (PR), selections (KO), registrations, segmentations and RT plans, measurements, waveforms
NON_IMAGE_MODALITIES = frozenset(
    [
        "SR",
        "DOC",
        "PR",
        "KO",
        "REG",
        "SEG",
        "FID",
        "RWV",
        "MPR",
        "PLAN",
        "RTPLAN",
        "RTSTRUCT",
        "RTDOSE",
        "RTRECORD",
        "AU",
        "ECG",
        "HD",
    ]
)


def _is_derived(modality: object, sop_class: str | None) -> bool:
    """Whether the object was not acquired by the study's scanner, so that its fields only fill
    what the study's images leave empty: an AI product's structured report or segmentation
    names the AI server as its Manufacturer and StationName, and SR as its Modality. True for
    the modalities in :data:`NON_IMAGE_MODALITIES`, and for a standard SOP class that is not
    an image storage or is a secondary capture (screenshots, AI heat maps); a private or
    absent SOP class is judged by the modality alone."""
    if modality in NON_IMAGE_MODALITIES:
        return True
    if sop_class is None:
        return False
    name = UID(sop_class).name
    if name == sop_class:  # not a standard SOP class
        return False
    return "Image Storage" not in name or "Secondary Capture" in name


_TEXT_VRS = frozenset(["SH", "LO", "PN", "ST", "LT", "UT", "UC"])
_DEFAULT_CHARSETS = (None, "", "ISO_IR 6")
UNDECLARED_UTF8 = "utf-8"
UNDECLARED_OTHER = "other"


def _undeclared_text(ds: Dataset) -> str | None:
    """How the header's text beyond ASCII is encoded when it declares no character set (no
    Specific Character Set, or the default, ISO_IR 6): :data:`UNDECLARED_UTF8` when every text
    element with bytes beyond ASCII is valid UTF-8 (at least one), :data:`UNDECLARED_OTHER`
    when one is not; None when the header declares a character set or its text is all ASCII.

    Systems in Japan and Korea write such headers: in UTF-8, or in Shift-JIS (cp932) or EUC-KR
    (cp949), which are almost never valid UTF-8. Read as the default, their names become
    mojibake (``ì\x84\x9c...``), so a site map key or a pseudonym would not match the same name
    from elsewhere: UTF-8 is read as UTF-8, other text in the ``--encoding`` given."""
    if _decodable(ds, "SpecificCharacterSet") not in _DEFAULT_CHARSETS:
        return None
    found = None
    for element in ds._dict.values():
        if not isinstance(element, RawDataElement) or not element.value:
            continue
        value = bytes(element.value)
        if value.isascii() or (element.VR or _dictionary_vr(element.tag)) not in _TEXT_VRS:
            continue
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return UNDECLARED_OTHER
        found = UNDECLARED_UTF8
    return found


def _not_text_in(ds: Dataset, codec: str) -> str | None:
    """The keyword of the first value read here (PatientID, then :data:`TEXT_FIELDS`) whose
    bytes are not text in ``codec``; None when all are. Call before the values are decoded:
    pydicom would put replacement characters in such a value (with a warning), not fail."""
    for keyword in ("PatientID", *TEXT_FIELDS.values()):
        element = ds._dict.get(Tag(keyword))
        if not isinstance(element, RawDataElement) or not element.value:
            continue
        try:
            bytes(element.value).decode(codec)
        except UnicodeDecodeError:
            return keyword
    return None


def _as_latin1(ds: Dataset, keyword: str) -> str | None:
    """The element's text (:func:`header_text`) as pydicom reads it in a header that declares
    no character set, without an encoding given (Latin-1); ``ds`` keeps its raw element, to be
    read in the encoding given. None when absent or already decoded."""
    element = ds._dict.get(Tag(keyword))
    if not isinstance(element, RawDataElement):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return header_text(Dataset({element.tag: element}), keyword)


def _dictionary_vr(tag: BaseTag) -> str | None:
    """The VR the DICOM dictionary gives ``tag`` (for implicit VR files); None if unknown."""
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


STUDY_UID_TAG = 0x0020000D


def _ended_early(ds: Dataset, size: int) -> str | None:
    """Why a header without a StudyInstanceUID that ends at the end of its file (``size``
    bytes) was cut short: inside its file meta, or before the study UID would come (elements
    are in tag order); None when its last element comes after that tag."""
    meta = getattr(ds, "file_meta", None)
    meta_length = meta.get("FileMetaInformationGroupLength") if meta is not None else None
    if not isinstance(meta_length, int):  # absent, or cut inside its own value ('')
        meta_length = None
    if meta_length is not None and size < 144 + meta_length:
        return (
            f"truncated: the file ends inside its file meta information ({size} bytes; the "
            f"file meta alone declares {144 + meta_length})"
        )
    tags = list(ds.keys())
    if not tags and meta_length is None:
        return f"truncated: the file ends inside its file meta information ({size} bytes)"
    if not tags:
        return f"truncated: the file ends after its file meta information ({size} bytes)"
    if max(tags) < STUDY_UID_TAG:
        return (
            f"truncated: the file ends after element {max(tags)}, before the StudyInstanceUID "
            "(0020,000D)"
        )
    return None


def _cut_element(ds: Dataset) -> object | None:
    """The tag of the element the file ends inside, if any. Unconverted elements still carry
    their declared length: a shorter value means the file ended inside it (pydicom stops there
    without an error)."""
    for element in ds._dict.values():
        if (
            isinstance(element, RawDataElement)
            and element.length != UNDEFINED_LENGTH
            and element.value is not None
            and len(element.value) < element.length
        ):
            return element.tag
    return None


def _decodable(ds: Dataset, keyword: str) -> str | None:
    """The element as text (:func:`header_text`), None when absent or when it cannot be decoded. Used
    for PatientID and PatientName, which are needed (to redact paths) even in a damaged header;
    PatientName is never stored, shown or kept after the call."""
    try:
        return header_text(ds, keyword)
    except Exception:  # noqa: BLE001 (a value that cannot be decoded is not used)
        return None


# The first element of a file written without the 128-byte preamble: a data set without file
# meta (older systems, some storage servers: group 0008, little- or big-endian), or file meta
# (group 0002, always little-endian) without the preamble and 'DICM' before it.
_BARE_DATA_SET = (b"\x08\x00", b"\x00\x08", b"\x02\x00")


def _dcmread(fh: IO[bytes]) -> Dataset:
    """The header of the DICOM file open in ``fh`` (pixels not read). A file without the
    preamble is read too when it starts with a group 0008 element (no file meta either) or a
    group 0002 one (file meta), as such files do; other files without the 'DICM' prefix raise
    InvalidDicomError."""
    try:
        return dcmread(fh, stop_before_pixels=True)
    except InvalidDicomError:
        fh.seek(0)
        if fh.read(2) not in _BARE_DATA_SET:
            raise
        fh.seek(0)
        return dcmread(fh, stop_before_pixels=True, force=True)


def _patient_words_before_failure(fh: IO[bytes]) -> set[Mark]:
    """The person marks (:func:`person_marks`) of a header pydicom fails to parse further on:
    it is read again up to the end of the patient group (0010), which comes before the elements
    that usually break (study, series, image); empty when that part fails too."""
    try:
        fh.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = read_partial(fh, _after_patient_group, force=True)  # type: ignore[arg-type]
        return person_marks(_decodable(ds, "PatientID"), _decodable(ds, "PatientName"))
    except Exception:  # noqa: BLE001 (nothing more can be read)
        return set()


def _after_patient_group(tag: BaseTag, vr: str | None, length: int) -> bool:
    return tag.group > 0x0010


PREFIX = 1 << 20  # the bytes of a file that is not DICOM that stand for it in the batch identity


def _identity(fh: IO[bytes], length: int, size: int) -> str:
    """sha256 of the first ``length`` bytes of open file ``fh`` and of its ``size``: what stands
    for the file in its batch's content hash. For a DICOM file, its header (every value read);
    its pixel data is not read."""
    fh.seek(0)
    digest = hashlib.sha256(fh.read(min(length, size)))
    digest.update(size.to_bytes(8, "little"))
    return digest.hexdigest()


def _write_batch(
    con: duckdb.DuckDBPyConnection,
    rows: list[dict[str, object]],
    summary: DicomSummary,
    settings: Settings,
    *,
    label: str,
    chash: str,
    started: datetime,
    own_ids: list[str],
    pads: dict[str, bytes],
    resent: int | None = None,
) -> None:
    """One transaction: merge files per study, upsert studies, quarantine, ingest_batches row.
    ``own_ids``: the PatientIDs of the call (raw, never stored) and ``pads`` the HMAC pads, to
    leave out the values that hold an id (:func:`_withhold`); ``resent``: the batch of the same
    files that a later batch changed studies of (:func:`_studies_changed_since`), said in the
    message."""
    files = _files_frame(rows)
    # each InstitutionName read, with the site the map gives it (matched ignoring case and
    # spacing: Settings.site_for); the join in _merge_studies is then on the name as read
    names = sorted({str(v) for v in files["institution"] if v is not None})
    sites = pd.DataFrame(
        [(name, site) for name in names if (site := settings.site_for(name)) is not None],
        columns=["institution", "site"],
        dtype=object,
    )
    con.register("_dicom_files_df", files)
    con.register("_dicom_sites_df", sites)
    con.execute("begin transaction")
    try:
        batch_id = int(con.execute("select nextval('batch_seq')").fetchall()[0][0])
        _load_files(con)
        withheld = _withhold(con, summary, own_ids, pads)
        _merge_studies(con)
        if settings.site_map:  # without a map every name is a site, as documented
            studied = con.execute(
                "select distinct institution from _dicom_studies where institution is not null "
                "order by institution"
            ).fetchall()
            summary.unmapped = [n for (n,) in studied if settings.site_for(n) is None]
        summary.scanners = _scanner_notes(con)
        stored_patient = _keep_stored_patients(con)
        summary.conflicts = stored_patient + _patient_conflicts(con)
        con.execute(
            "create or replace temp table _dicom_sites_before as select study_uid, site "
            "from studies where study_uid in (select study_uid from _dicom_studies)"
        )
        inserted, updated, *_ = upsert_studies(
            con, "_dicom_studies", batch_id=batch_id, source=KIND
        )  # another stored patient is kept (_keep_stored_patients) and reported above
        new_sites = _studies_with_a_new_site(con)
        studies = con.execute("select count(*) from _dicom_studies").fetchall()[0][0]
        not_read = [
            *summary.skipped,
            *((f"{rel}/", why) for rel, why in summary.folders),
            *summary.missing,
        ]
        if not_read:
            con.executemany(
                "insert into quarantine (batch_id, file_name, row_number, column_name, reason, "
                "raw) values (?, ?, 0, null, ?, null)",
                [(batch_id, rel, reason) for rel, reason in not_read],
            )
        if summary.withheld:  # kept with the batch, so that loading it again says so too
            con.executemany(
                "insert into quarantine (batch_id, file_name, row_number, column_name, reason, "
                "raw) values (?, ?, 0, ?, ?, null)",
                [
                    (batch_id, label, field.keyword, line)
                    for field, line in zip(withheld, summary.withheld, strict=True)
                ],
            )
        if summary.conflicts:  # kept with the batch, so that loading it again says so too
            con.executemany(
                "insert into quarantine (batch_id, file_name, row_number, column_name, reason, "
                f"raw) values (?, ?, 0, '{CONFLICT_COLUMN}', ?, null)",
                [(batch_id, label, conflict) for conflict in summary.conflicts],
            )
            summary.conflict_studies = _conflict_studies(con, batch_id)
        summary.batch_id = batch_id
        summary.studies = int(studies)
        summary.inserted, summary.updated = inserted, updated
        summary.unchanged = summary.studies - inserted - updated
        summary.message = (
            f"{label}: batch {batch_id}: {summary.studies} stud{'y' if studies == 1 else 'ies'} "
            f"from {summary.files_read} of {summary.files_seen} file(s): "
            f"{inserted} new, {updated} updated"
            f"{f' ({new_sites} with a new site)' if new_sites else ''}, "
            f"{summary.unchanged} unchanged; "
            f"{len(summary.skipped)} file(s) skipped"
        )
        if summary.folders:
            summary.message += f"; {len(summary.folders)} folder(s) not read"
        if summary.unmapped:
            summary.message += f"; {len(summary.unmapped)} InstitutionName(s) not in the [site_map]"
        if within := len(summary.conflicts) - len(stored_patient):
            summary.message += (
                f"; {within} stud{'y' if within == 1 else 'ies'} "
                "with files of more than one PatientID"
            )
        if stored_patient:
            summary.message += (
                f"; {len(stored_patient)} stud{'y' if len(stored_patient) == 1 else 'ies'} "
                "whose files name another patient than the one stored"
            )
        if n := summary.withheld_studies:
            summary.message += (
                f"; {n} stud{'y' if n == 1 else 'ies'} with a patient or reader id (not shown) "
                f"in {', '.join(w.keyword for w in withheld)}: not stored (listed below)"
            )
        summary.message += (
            _scanners_note(summary)
            + _undeclared_note(summary)
            + _media_note(summary)
            + _viewer_note(summary)
            + _missing_note(summary)
        )
        if resent is not None:
            summary.message += (
                f"; same content as batch {resent}, read again as later files changed the values "
                "of its studies since"
            )
        con.execute(
            "insert into ingest_batches (batch_id, kind, file_name, content_hash, started_at, "
            "finished_at, status, rows_read, rows_accepted, rows_inserted, rows_replaced, "
            "rows_unchanged, rows_quarantined, message) "
            "values (?, ?, ?, ?, ?, ?, 'committed', ?, ?, ?, ?, ?, ?, ?)",
            [
                batch_id,
                KIND,
                label,
                chash,
                started,
                _now(),
                summary.files_read,
                summary.studies,
                inserted,
                updated,
                summary.unchanged,
                len(not_read) + len(summary.conflicts) + len(summary.withheld),
                summary.message,
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists _dicom_studies")
        con.execute("drop table if exists _dicom_sites_before")
        con.execute("drop table if exists _dicom_files")
        con.execute("drop table if exists _dicom_scanners")
        con.unregister("_dicom_files_df")
        con.unregister("_dicom_sites_df")
        con.unregister(OWN_IDS)


def _files_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """The files read (one row each, :func:`_fields`), as ``_dicom_files_df`` holds them."""
    columns = ["_ord", "_derived", "study_uid", *FILE_COLUMNS]
    files = pd.DataFrame(rows, columns=columns).astype(object)
    return files.where(files.notna(), None)


def _scanners_again(
    con: duckdb.DuckDBPyConnection,
    rows: list[dict[str, object]],
    own_ids: list[str],
    pads: dict[str, bytes],
) -> list[str]:
    """The studies of two scanners (:func:`_scanner_notes`) of a batch loaded before, from its
    files, read again to know it (``rows``): the store keeps only the scanner each study took,
    and such a study is no error to keep in quarantine. A scanner name that holds a patient or
    reader id is left out, as when the batch was loaded (:func:`_withhold`: ``own_ids``,
    ``pads``; looked for only when a study has two scanners: about 50 ms). A few queries on
    the files' rows, in temp tables of a cursor of its own (DuckDB refuses to register a frame
    on a connection with a result not fetched), outside any transaction; nothing stored
    changes."""
    if not rows:
        return []
    columns = ["study_uid", "_derived", "scanner_manufacturer", "scanner_model"]
    files = pd.DataFrame(rows, columns=columns).astype(object)  # only what the votes need
    with con.cursor() as cur:
        cur.register("_scanner_files_df", files.where(files.notna(), None))
        cur.execute(
            """
            create temp table _dicom_files as
            select cast(study_uid as varchar) as study_uid, cast(_derived as boolean) as _derived,
                   cast(scanner_manufacturer as varchar) as scanner_manufacturer,
                   cast(scanner_model as varchar) as scanner_model
            from _scanner_files_df
            """
        )
        _scanner_votes(cur)
        [(two,)] = cur.execute(
            "select exists (select 1 from _dicom_scanners group by study_uid having count(*) > 1)"
        ).fetchall()
        if not two:  # the usual case; emptying values never makes two scanners of one
            return []
        withhold_ids(cur, TEXT_FIELDS, _own_ids_sql(cur, own_ids), pads)
        _scanner_votes(cur)
        return _scanner_notes(cur)


# The frame of the call's own PatientIDs (raw, in memory only) that :func:`withhold_ids` reads
OWN_IDS = "_dicom_own_ids_df"


def _own_ids_sql(con: duckdb.DuckDBPyConnection, own_ids: list[str]) -> str | None:
    """A SELECT of column ``id``, the call's own PatientIDs (``own_ids``, as
    :func:`ingest.dicom_paths.person_marks` keeps them: in lower case), registered on ``con`` as
    a frame (:data:`OWN_IDS`; never written to the database); None when there are none."""
    if not own_ids:
        return None
    con.register(OWN_IDS, pd.DataFrame({"id": own_ids}, dtype=object))
    return f"select id from {OWN_IDS}"


def _withhold(
    con: duckdb.DuckDBPyConnection,
    summary: DicomSummary,
    own_ids: list[str],
    pads: dict[str, bytes],
) -> list[Withheld]:
    """Empty, in ``_dicom_files``, the text values (:data:`TEXT_FIELDS`) that are or hold a
    patient id of the call (``own_ids``) or a patient or reader id the store knows
    (:func:`ingest.dicom_values.withhold_ids`), as a file's rows that hold one are quarantined;
    the study takes another of its files' value, or keeps the one stored. Sets the summary's
    lines and count of studies, and returns the fields (in the order of the lines)."""
    withheld, summary.withheld_studies = withhold_ids(
        con, TEXT_FIELDS, _own_ids_sql(con, own_ids), pads
    )
    if any(w.keyword == TEXT_FIELDS["institution"] for w in withheld):
        # the name read as Latin-1 only lets a new reading replace a site stored as it
        con.execute("update _dicom_files set institution_latin1 = null where institution is null")
    summary.withheld = [_withheld_line(w) for w in withheld]
    return withheld


def _withheld_line(field: Withheld) -> str:
    """The line of the summary (and reason in quarantine) of a header field whose value held an
    id in some files (:func:`_withhold`); the id is not shown, the studies' UIDs are."""
    more = ", ..." if field.studies > len(field.shown) else ""
    files = f"{field.files} file{'' if field.files == 1 else 's'}"
    studies = f"{field.studies} stud{'y' if field.studies == 1 else 'ies'}"
    return (
        f"{field.keyword} holds a patient or reader id (not shown) in {files} of {studies} "
        f"({', '.join(field.shown)}{more}): not stored; a study takes the value of another of "
        "its files, else keeps the one it had"
    )


def _recorded_withheld(con: duckdb.DuckDBPyConnection, batch_id: int) -> list[str]:
    """The lines of the header fields that held an id when batch ``batch_id`` was loaded
    (:func:`_withhold`; kept in quarantine), in the order of :data:`TEXT_FIELDS`."""
    keywords = list(TEXT_FIELDS.values())
    rows = con.execute(
        "select reason from quarantine where batch_id = ? and column_name in ? "
        "order by list_position(?, column_name)",
        [batch_id, keywords, keywords],
    ).fetchall()
    return [r[0] for r in rows]


def _studies_changed_since(
    con: duckdb.DuckDBPyConnection, batch_id: int, rows: list[dict[str, object]]
) -> bool:
    """Whether a later batch (predictions or DICOM headers) wrote the stored values of a study
    of the files of DICOM batch ``batch_id`` (``rows``: read again, to know the batch): a
    predictions file that gave the study another modality or scanner, say. Then the same
    files are loaded again, and their values replace the later ones (re-sending the original
    reverts a bad correction), as :func:`ingest.load._studies_changed_since` does for a file.
    Free when no committed batch of either kind came later (the same files sent again at
    once); else one look-up of the files' studies among those written since."""
    [(later,)] = con.execute(
        "select count(*) from ingest_batches where batch_id > ? and status = 'committed' "
        "and kind in ('predictions', 'dicom')",
        [batch_id],
    ).fetchall()
    if not later or not rows:
        return False
    [(changed,)] = con.execute(
        """
        select exists (
            select 1 from studies
            where batch_id > $b and study_uid in (select unnest($uids::varchar[]))
        )
        """,
        {"b": batch_id, "uids": sorted({str(row["study_uid"]) for row in rows})},
    ).fetchall()
    return bool(changed)


def _scanners_note(summary: DicomSummary) -> str:
    """The summary's count of the studies whose images name more than one scanner (listed after
    it); empty when there were none."""
    if not (n := len(summary.scanners)):
        return ""
    return (
        f"; {n} stud{'y' if n == 1 else 'ies'} with images from more than one scanner "
        "(a study takes the scanner of most of its images, a tie the first by "
        "manufacturer and model; listed below)"
    )


# The quarantine column of a batch's patient conflicts (one row per study, the line shown)
CONFLICT_COLUMN = "PatientID"


def _recorded_conflicts(con: duckdb.DuckDBPyConnection, batch_id: int) -> list[str]:
    """The patient conflicts batch ``batch_id`` reported (kept in quarantine), in order."""
    rows = con.execute(
        "select reason from quarantine where batch_id = ? and column_name = ? order by reason",
        [batch_id, CONFLICT_COLUMN],
    ).fetchall()
    return [r[0] for r in rows]


# The study of a conflict line (:func:`_keep_stored_patients`, :func:`_patient_conflicts`), as
# quarantine keeps it (also for batches recorded before :func:`_conflict_studies` was written)
_CONFLICT_STUDY = "^study (.+?): its files "


def _conflict_studies(con: duckdb.DuckDBPyConnection, batch_id: int) -> int:
    """How many studies the patient conflicts of batch ``batch_id`` concern, each once: a
    study whose files disagree among themselves and with the patient stored has two lines."""
    [(studies,)] = con.execute(
        """
        select count(distinct regexp_extract(reason, $study, 1))
        from quarantine where batch_id = $batch and column_name = $column
        """,
        {"study": _CONFLICT_STUDY, "batch": batch_id, "column": CONFLICT_COLUMN},
    ).fetchall()
    return int(studies)


def _merge_studies(con: duckdb.DuckDBPyConnection) -> None:
    """Temp tables ``_dicom_scanners`` (one per study and scanner) and ``_dicom_studies`` (one
    per study), from ``_dicom_files`` (one row per file read, :func:`_load_files`): each field
    is the first non-empty value of the study's files, those of image objects first
    (:func:`_is_derived`), then in path order; the site is mapped through the site map. The
    scanner columns and the modality (:data:`SCANNER_COLUMNS`) come from the study's scanner
    (:func:`_study_scanners`), and only fill from derived objects, never from an image of
    another scanner. A study whose files here are all derived objects is marked
    :data:`FILL_ONLY`: its values only fill what the stored study leaves empty
    (:func:`ingest.studies.upsert_studies`), as they would within one call."""
    firsts = ", ".join(
        f"first({c} order by _derived, _other_scanner, _ord) "
        f"filter (where {c} is not null and (_derived or not _other_scanner)) as {c}"
        if c in SCANNER_COLUMNS
        else f"first({c} order by _derived, _ord) filter (where {c} is not null) as {c}"
        for c in FILE_COLUMNS
    )
    _study_scanners(con)
    con.execute(
        f"""
        create or replace temp table _dicom_studies as
        with merged as (
            select study_uid, {firsts}, bool_and(_derived) as {FILL_ONLY}
            from _dicom_files group by study_uid
        )
        select m.study_uid, m.{FILL_ONLY},
               coalesce(s.site, m.institution) as site,
               {", ".join(f"m.{c}" for c in TEXT_FIELDS)},
               cast(m.study_datetime as timestamp) as study_datetime,
               cast(m.patient_age as smallint) as patient_age,
               m.patient_sex, m.patient_pid, m.patient_pid_latin1, m.institution_latin1
        from merged m
        left join (select cast(institution as varchar) as institution,
                          cast(site as varchar) as site from _dicom_sites_df) s
               on s.institution = m.institution
        order by m.study_uid
        """
    )


def _load_files(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``_dicom_files``: the files read (``_dicom_files_df``), typed."""
    con.execute(
        f"""
        create or replace temp table _dicom_files as
        select cast(_ord as bigint) as _ord, cast(_derived as boolean) as _derived,
               cast(study_uid as varchar) as study_uid,
               {", ".join(f"cast({c} as varchar) as {c}" for c in FILE_COLUMNS)}
        from _dicom_files_df
        """
    )


# The columns a study takes from the files of its scanner (:func:`_study_scanners`)
SCANNER_COLUMNS = (
    "modality",
    "scanner_manufacturer",
    "scanner_model",
    "scanner_software",
    "station",
)


def _study_scanners(con: duckdb.DuckDBPyConnection) -> None:
    """Choose each study's scanner: ``_dicom_scanners`` counts the files of each study per
    scanner (Manufacturer and ManufacturerModelName) among those of its files that name one,
    image objects only when any does (a derived object names the AI server, not a scanner);
    the scanner of the most files is the study's (``chosen``), a tie going to the first by
    Manufacturer, then model name, so the choice never depends on the files' names or order.
    ``_dicom_files`` gets ``_other_scanner``: the file names another scanner than its
    study's. Two scanners in one study (a series acquired again on another scanner, a study
    merged at the PACS) are reported by :func:`_scanner_notes`."""
    _scanner_votes(con)
    con.execute(
        """
        create or replace temp table _dicom_files as
        select f.*,
               c.study_uid is not null
               and (f.scanner_manufacturer is not null or f.scanner_model is not null)
               and (f.scanner_manufacturer is distinct from c.scanner_manufacturer
                    or f.scanner_model is distinct from c.scanner_model) as _other_scanner
        from _dicom_files f
        left join _dicom_scanners c on c.study_uid = f.study_uid and c.chosen
        """
    )


def _scanner_votes(con: duckdb.DuckDBPyConnection) -> None:
    """Temp table ``_dicom_scanners`` from ``_dicom_files`` (study_uid, _derived and the
    scanner columns suffice): the files of each study per scanner, the study's chosen
    (:func:`_study_scanners`)."""
    con.execute(
        """
        create or replace temp table _dicom_scanners as
        with votes as (
            select study_uid, _derived, scanner_manufacturer, scanner_model,
                   count(*) as files
            from _dicom_files
            where scanner_manufacturer is not null or scanner_model is not null
            group by all
        ),
        ranked as (
            select *, row_number() over (
                       partition by study_uid
                       order by _derived, files desc, scanner_manufacturer nulls last,
                                scanner_model nulls last) as rank,
                   min(_derived) over (partition by study_uid) as voting
            from votes
        )
        select study_uid, scanner_manufacturer, scanner_model, files, rank = 1 as chosen
        from ranked where _derived = voting
        """
    )


def _scanner_notes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A line for each study whose files (images first: :func:`_study_scanners`) name more
    than one scanner, with the files of each and the one the study takes."""
    rows = con.execute(
        """
        select study_uid, count(*) as scanners,
               string_agg(
                   coalesce(scanner_manufacturer, '?') || ' ' || coalesce(scanner_model, '?')
                   || ': ' || files || ' file' || case when files = 1 then '' else 's' end,
                   ', ' order by files desc, scanner_manufacturer nulls last,
                                 scanner_model nulls last) as counts,
               first(coalesce(scanner_manufacturer, '?') || ' ' || coalesce(scanner_model, '?'))
                   filter (where chosen) as taken
        from _dicom_scanners
        group by study_uid
        having count(*) > 1
        order by study_uid
        """
    ).fetchall()
    return [
        f"study {uid}: its files name {scanners} scanners ({counts}); the study takes {taken}"
        for uid, scanners, counts, taken in rows
    ]


def _studies_with_a_new_site(con: duckdb.DuckDBPyConnection) -> int:
    """How many studies already stored got another site from this batch (as when a site map
    was added or changed since their files were loaded): the stored site before the upsert
    (``_dicom_sites_before``) against the one after, so a site the merge kept (an unmapped
    InstitutionName does not replace a prediction file's site) is not counted."""
    return int(
        con.execute(
            """
            select count(*) from _dicom_sites_before b join studies s using (study_uid)
            where s.site is distinct from b.site
            """
        ).fetchall()[0][0]
    )


def _keep_stored_patients(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A line for each study already stored whose files here name another patient (by
    pseudonym; the ids are not shown). The study keeps the stored patient: a study's patient
    changes when someone has checked which is right, not because files say otherwise (a
    mislabelled export, two patients under one StudyInstanceUID). Its other fields merge as
    usual. Call before the upsert.

    Except when the stored patient is the one the same PatientID gives read as Latin-1
    (``patient_pid_latin1``): files loaded without ``--encoding`` and now read in it name the
    same patient, whose id was misread; the new reading replaces it and is not reported."""
    other = """
        n.patient_pid <> o.patient_pid and n.patient_pid_latin1 is distinct from o.patient_pid
    """
    rows = con.execute(
        f"""
        select n.study_uid from _dicom_studies n join studies o using (study_uid)
        where {other}
        order by n.study_uid
        """
    ).fetchall()
    if rows:
        con.execute(
            f"""
            update _dicom_studies n set patient_pid = o.patient_pid from studies o
            where o.study_uid = n.study_uid and {other}
            """
        )
    return [
        f"study {uid}: its files name another patient than the one stored; the study keeps "
        "the stored patient (check the PatientID of its files and of its earlier sources)"
        for (uid,) in rows
    ]


def _patient_conflicts(con: duckdb.DuckDBPyConnection) -> list[str]:
    """A line for each study whose files name more than one patient (by pseudonym; the ids are
    not shown): two patients' objects filed under one StudyInstanceUID, which a study's single
    patient column cannot hold. The study keeps the patient of its first file (image objects
    first, then path order), or the one stored before (:func:`_keep_stored_patients`)."""
    rows = con.execute(
        """
        select f.study_uid,
               count(distinct f.patient_pid) as patients,
               count(*) filter (where f.patient_pid = s.patient_pid) as kept,
               count(*) as files
        from _dicom_files f
        join _dicom_studies s using (study_uid)
        group by f.study_uid
        having count(distinct f.patient_pid) > 1
        order by f.study_uid
        """
    ).fetchall()
    return [
        f"study {uid}: its files disagree on PatientID ({patients} different patients); "
        f"the study keeps the patient of {kept} of its {files} files"
        for uid, patients, kept, files in rows
    ]


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_FILE_NAME else text[: MAX_FILE_NAME - 3] + "..."


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
