"""Which files a DICOM ingest reads, and how their paths are shown without naming a patient.

:func:`walk_files` lists the files under the paths given (folders walked, links to folders
followed once, ZIP archives read as their files, pipes and devices never opened);
:func:`check_media` compares the files a DICOMDIR lists with those found beside it;
:func:`redact` hides the folder and file names that name a patient of the headers read.
"""

from __future__ import annotations

import os
import re
import stat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ArchiveMember:
    """A file inside a ZIP archive (as a PACS viewer's "download study" writes them)."""

    archive: Path
    name: str


FileSource = Path | ArchiveMember

# The name a medium's index of its DICOM files has (PS3.10 8.6, 8.2: upper case on ISO 9660)
DICOMDIR = "DICOMDIR"


def walk_files(
    paths: Sequence[str | Path],
    skipped: list[tuple[str, str]],
    folders: list[tuple[str, str]],
    notes: list[tuple[str, str]],
) -> list[tuple[str, FileSource]]:
    """(path relative to its root, file) for every file under ``paths``, sorted, no duplicates;
    a ZIP archive stands for the files in it (``study.zip/IM-0001.dcm``), and a DICOMDIR given
    (``/media/cdrom/DICOMDIR``) for the folder it indexes, its own. A path that is not a
    regular file (a named pipe, socket or device) is added to ``skipped`` without being opened:
    reading a pipe waits forever. Folders that could not be read go to ``folders``, links into
    their own folder (loops) to ``notes`` (:func:`_files_under`)."""
    found: list[tuple[str, FileSource]] = []
    seen: set[Path] = set()
    for root in (Path(p) for p in paths):
        if root.name.upper() == DICOMDIR and root.is_file():
            root = root.parent  # a CD's index given for the CD: its folder is what it indexes
        if root.is_dir():
            candidates = _files_under(root, folders, notes)
        elif os.path.lexists(root):
            candidates = [(root.name, root)]
        else:
            skipped.append((str(root), "no such file or folder"))
            continue
        for rel, path in sorted(candidates):
            if (unusable := _not_a_regular_file(path)) is not None:
                skipped.append((rel, unusable))
                continue
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            if path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
                found.extend(_members(rel, path, skipped))
            else:
                found.append((rel, path))
    return found


def _files_under(
    root: Path, folders: list[tuple[str, str]], notes: list[tuple[str, str]]
) -> list[tuple[str, Path]]:
    """(path relative to ``root``, path) of the files in folder ``root`` and its sub-folders,
    sorted. Links to folders are followed, each real folder read once. A link to a folder read
    under another path (a PACS export's ``latest``) is passed over without a word: its files
    were read. A link into a folder that holds it (a loop) is passed over too, with a note in
    ``notes``: nothing was left unread, but the export is likely not as meant. Neither is an
    error (each run would fail again). A folder that cannot be listed goes to ``folders``."""
    candidates: list[tuple[str, Path]] = []
    read: set[Path] = {root.resolve()}

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename).relative_to(root).as_posix() if exc.filename else str(root)
        folders.append((where, f"cannot read the folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        here = Path(dirpath)
        new = _first_visits(here, dirnames, read)
        for name in sorted(set(dirnames) - set(new)):
            if _is_loop(here / name):
                notes.append(((here / name).relative_to(root).as_posix(), LOOP))
        dirnames[:] = new
        candidates.extend(((here / n).relative_to(root).as_posix(), here / n) for n in filenames)
    return sorted(candidates)


def _first_visits(here: Path, dirnames: list[str], read: set[Path]) -> list[str]:
    """The sub-folders of ``here`` whose real path is not in ``read`` yet (added to it), sorted;
    a real folder is taken before a link to the same folder."""
    new = []
    for name in sorted(dirnames, key=lambda n: ((here / n).is_symlink(), n)):
        real = (here / name).resolve()
        if real not in read:
            read.add(real)
            new.append(name)
    return sorted(new)


LOOP = "a link to a folder that holds it (a loop); not followed"


def _is_loop(folder: Path) -> bool:
    """Whether ``folder``, whose real folder was already read, is a link to a folder that
    holds it."""
    real = folder.resolve()
    return real == folder.parent.resolve() or real in folder.parent.resolve().parents


_FILE_KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def _not_a_regular_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file, found without opening it; None for a file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a link to nothing (its target does not exist)"
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return None
    kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a file or folder")
    return f"{kind}, not a regular file: not opened"


def _members(
    rel: str, archive: Path, skipped: list[tuple[str, str]]
) -> list[tuple[str, FileSource]]:
    """The files of ZIP ``archive`` (found at ``rel``), sorted by name."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = sorted(i.filename for i in zf.infolist() if not i.is_dir())
    except (OSError, zipfile.BadZipFile) as exc:
        skipped.append((rel, f"a damaged ZIP archive: {exc}"))
        return []
    return [(f"{rel}/{name}", ArchiveMember(archive, name)) for name in names]


@dataclass(frozen=True)
class MediaCheck:
    """The files of a call against the DICOMDIRs among them (:func:`check_media`)."""

    # per DICOMDIR (its index in the files): the files it lists, and those of them not found,
    # in its order, as it names them (``DICOM/IM00003``: relative to its folder)
    missing: list[tuple[int, int, list[str]]]
    # the indices of the files in a DICOMDIR's folder (or below) that no DICOMDIR lists
    unlisted: set[int]


def check_media(
    files: Sequence[tuple[str, FileSource]], listings: Mapping[int, Sequence[str]]
) -> MediaCheck:
    """Which files the DICOMDIRs among ``files`` (their index there, with the files each lists,
    as ``DICOM/IM00001``) list but are not among ``files`` (a CD copied in part), and which of
    ``files`` are in a DICOMDIR's folder but listed by none (a CD's viewer software, or files
    added beside it). Names are matched as an ISO 9660 CD shows them, whatever Linux's mount
    or a copy made of them: ignoring case, a version suffix (``IM00001;1``) and a trailing dot
    (:func:`_media_key`)."""
    keys = [_media_key(source) for _, source in files]
    found = set(keys)
    listed: set[str] = set()
    folders: list[str] = []
    missing = []
    for index, names in listings.items():
        folder = keys[index].rpartition("/")[0] + "/"
        folders.append(folder)
        wanted = {name: folder + _normal(name) for name in names}  # in order, each once
        listed.update(wanted.values())
        absent = [name for name, key in wanted.items() if key not in found]
        missing.append((index, len(wanted), absent))
    unlisted = {
        n
        for n, key in enumerate(keys)
        if n not in listings and key not in listed and key.startswith(tuple(folders))
    }
    return MediaCheck(missing, unlisted)


def _media_key(source: FileSource) -> str:
    """``source``'s absolute path (a ZIP member's after its archive's and ``!``), for
    :func:`check_media`: without resolving links, as the walk names the files of a folder
    after the folder's path (:func:`_normal`)."""
    if isinstance(source, Path):
        return _normal(os.path.abspath(source))
    return f"{_normal(os.path.abspath(source.archive))}!/{_normal(source.name)}"


_ISO9660_VERSION = re.compile(r"\.?(;\d*)?$")


def _normal(path: str) -> str:
    """``path`` case-folded, each name without an ISO 9660 version (``;1``) or a trailing dot:
    a CD lists ``DICOM/IM00001``, which Linux may mount as ``dicom/im00001`` or show as
    ``IM00001.;1``."""
    return "/".join(
        _ISO9660_VERSION.sub("", name) for name in path.replace("\\", "/").casefold().split("/")
    )


# What names a patient in a path (:func:`person_marks`), case-folded: ("id", PatientID),
# ("word", a PatientName component) or ("name", every component of one PatientName group)
Mark = tuple[str, ...]


_WORD = re.compile(r"[^\W_]+")  # letters and digits: "_" and "-" separate words


REDACTED = "<patient>"


def person_marks(patient_id: str | None, name: str | None) -> set[Mark]:
    """The marks by which a folder or file name names this patient (:func:`_names_one`): the
    whole PatientID, each PatientName component of 3 characters or more (2 or more when not
    ASCII, as most Japanese and Korean name parts are), and each name group (alphabetic,
    ideographic, phonetic: ``YAMADA^TARO=山田^太郎``) whole, for the short components."""
    marks: set[Mark] = set()
    if patient_id and len(patient_id) >= 2:
        marks.add(("id", patient_id.casefold()))
    for group in (name or "").split("="):
        components = [w.casefold() for w in _WORD.findall(group)]
        if components:
            marks.add(("name", *components))
        marks.update(("word", w) for w in components if len(w) >= (3 if w.isascii() else 2))
    return marks


def redact(path_text: str, people: set[Mark], labels: dict[str, str] | None = None) -> str:
    """``path_text`` with each folder or file name that names a patient (:func:`_names_one`)
    replaced by ``<patient>``, or by its label in ``labels`` (:func:`patient_labels`:
    ``<patient 2>``); a file name keeps its extension (:func:`_kept_extension`:
    ``<patient>.json``). A file skipped for being unreadable is shown by its path, and
    exports often name a patient's folder after the patient's id and name. Only the patients of
    the files read in this call are known: a folder of a patient none of whose files could be
    read is not recognised."""
    if not people:
        return path_text
    parts = re.split(r"([/\\])", path_text)
    last = len(parts) - 1
    return "".join(
        (labels or {}).get(part, REDACTED) + _kept_extension(part, people, at_end=i == last)
        if _names_one(part, people)
        else part
        for i, part in enumerate(parts)
    )


def patient_labels(paths: Sequence[str], people: set[Mark]) -> dict[str, str]:
    """The label of each folder or file name in ``paths`` that names a patient, for
    :func:`redact`: ``<patient>`` when there is one such name, else ``<patient 1>``,
    ``<patient 2>``, ... in the order of the names (code points, as ``LC_ALL=C ls`` lists
    them), so that the skipped files of six patients' folders are six lines that can be told
    apart and found, not six ``<patient>/notes.txt``. A number says nothing of the patient."""
    if not people:
        return {}
    named = sorted(
        {part for path in paths for part in re.split(r"[/\\]", path) if _names_one(part, people)}
    )
    if len(named) < 2:
        return dict.fromkeys(named, REDACTED)
    return {part: f"<patient {n}>" for n, part in enumerate(named, 1)}


_EXTENSION = re.compile(r"\.[A-Za-z0-9]{0,4}[A-Za-z][A-Za-z0-9]{0,4}$")  # .dcm, .json, .gz


def _kept_extension(part: str, people: set[Mark], *, at_end: bool) -> str:
    """The extension of the last name of a path that names a patient (``.dcm``, ``.json``),
    shown after ``<patient>`` to help find the file: up to 5 letters and digits with a letter,
    which name no patient themselves; empty for any other name (``YAMADA.TARO`` keeps
    nothing: ``.TARO`` names the patient)."""
    if not at_end or not (m := _EXTENSION.search(part)) or m.start() == 0:
        return ""
    extension = m.group()
    if len(extension) > 6 or _names_one(extension[1:], people):
        return ""
    return extension


def _names_one(part: str, people: set[Mark]) -> bool:
    """Whether a folder or file name names one of ``people``:

    - a PatientID as a whole, between the name's ends, spaces or punctuation (``P55 ITO``,
      ``P55-CT``, ``P55.dcm``), never a fragment of it (``2026-00042`` does not hide ``2026-10``)
      nor in a longer id (``P55A``); inside a longer word when it has 4 characters or more
      (``TKY-884412_YAMADA``);
    - a name component of 3 characters or more (2 when not ASCII) as a word of its own
      (``YAMADA_TARO``), or inside a longer one when it has 4 or more or is not ASCII
      (``YAMADATARO``, ``山田太郎``);
    - a name whose components are all words of the folder name (``LI_NA-2`` for ``LI^NA``):
      the only way a component of 1-2 ASCII letters counts (``PHANTOM^MR`` does not hide ``MR``).
    """
    folded = part.casefold()
    words = set(_WORD.findall(folded))
    for kind, *values in people:
        value = values[0]
        if kind == "id" and ((len(value) >= 4 and value in folded) or _whole(value, folded)):
            return True
        long_word = len(value) >= 4 or not value.isascii()
        if kind == "word" and (value in words or (long_word and value in folded)):
            return True
        if kind == "name" and words.issuperset(values):
            return True
    return False


def _whole(value: str, text: str) -> bool:
    """Whether ``value`` occurs in ``text`` with no letter or digit on either side."""
    return re.search(rf"(?<![^\W_]){re.escape(value)}(?![^\W_])", text) is not None
