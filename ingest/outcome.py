"""What an ingest command did when something stopped it after some batches committed: a
publish that failed (a full disk, a folder in the way), a later file's failure, Ctrl-C. The
user is told which batches committed, what failed, in words, and that the snapshot is behind.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import takewhile
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from radqa.errors import StoreError, first_line

if TYPE_CHECKING:
    from ingest.load import BatchResult


class PartlyLoaded(StoreError):
    """An ingest stopped by an error after some of its batches committed (a full disk while it
    published the snapshot or loaded a later file): ``results`` are the batches it did, for
    their summary lines; the message says what failed."""

    def __init__(self, message: str, results: list[BatchResult]) -> None:
        super().__init__(message)
        self.results = list(results)


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C after some batches of an ingest committed: ``results`` are those batches; the
    message says what was interrupted and whether the snapshot is behind. A KeyboardInterrupt,
    so that whatever stops on Ctrl-C still stops."""

    def __init__(self, message: str, results: list[BatchResult]) -> None:
        super().__init__(message)
        self.results = list(results)


#: What a user is told when the working database holds batches the snapshot does not
BEHIND = (
    "the dashboard shows the previous snapshot until `radqa publish` (or the next ingest) "
    "publishes it"
)


@contextmanager
def publishing(results: list[BatchResult], left: int) -> Iterator[None]:
    """Publishing the snapshot after ``results`` committed: a failure (a full disk, a folder in
    the way) becomes :class:`PartlyLoaded`, which says that the batches committed and that the
    snapshot is behind, with the reason in words (:func:`in_words`)."""
    try:
        yield
    except (duckdb.Error, OSError, StoreError) as exc:
        if isinstance(exc, duckdb.InterruptException):
            raise
        since = list(takewhile(lambda r: not r.snapshot_id, reversed(results)))[::-1]
        committed = [r.file for r in since if r.status == "committed"]  # since the last publish
        if len(committed) == 1:
            what = f"{committed[0]}: batch committed to the working database; "
        elif committed:
            what = f"{len(committed)} batches ({', '.join(committed)}) committed to the working database; "
        else:  # a refused file's record, or an earlier run's batches (derived.finish_writes)
            what = "the working database holds changes the snapshot does not; "
        raise PartlyLoaded(
            f"{what}publishing the snapshot failed: {in_words(exc)}; {BEHIND}" + not_tried(left),
            results,
        ) from exc


def not_tried(left: int) -> str:
    return f"; the {left} file(s) after it were not tried" if left > 0 else ""


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C: Python's, or DuckDB's answer to it in the middle of a query."""
    if isinstance(exc, KeyboardInterrupt | duckdb.InterruptException):
        return True
    return "interrupted" in str(exc).lower()


def interrupted_message(results: list[BatchResult], loading: Path | None, unpublished: bool) -> str:
    n = sum(r.status != "unchanged" for r in results)
    where = f"while loading {loading.name} (rolled back)" if loading else "while publishing"
    text = f"interrupted {where}; before it, {n} batch(es) of this command committed"
    if unpublished:
        text += f"; the snapshot was not published: {BEHIND}"
    return text


#: What the machine, not the file, failed at: (errno values, the system's or DuckDB's words for
#: them, the failure in words). A full disk or quota, a file-size limit (ulimit -f, FAT32), a
#: read-only or failing disk, memory.
MACHINE_FAILURES = (
    ({errno.ENOSPC, errno.EDQUOT}, ("no space left on device", "disk quota exceeded"),
     "the disk is full", "; free disk space"),
    ({errno.EFBIG}, ("file too large",), "a file-size limit was reached", ""),
    ({errno.EROFS}, ("read-only file system",), "the disk is read-only", ""),
    ({errno.EIO}, ("input/output error",), "the disk failed to read or write", ""),
    ({errno.ENOMEM}, ("out of memory",), "the memory ran out", ""),
)  # fmt: skip


def machine_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the machine's failure (:data:`MACHINE_FAILURES`) rather than the
    file's: such a file is not recorded as refused, which would change the snapshot for good
    for a file that is fine, and the user is told to run the command again."""
    if isinstance(exc, duckdb.OutOfMemoryException):
        return True
    for errnos, words, _, _ in MACHINE_FAILURES:
        if isinstance(exc, OSError) and exc.errno in errnos:
            return True
        if isinstance(exc, duckdb.Error) and any(w in str(exc).lower() for w in words):
            return True
    return False


def in_words(exc: BaseException) -> str:
    """Why a write failed, in words first (a full disk, a folder in the way), then the
    system's or DuckDB's own line. The error's causes are searched too: DuckDB may report a
    full disk as a failed CHECKPOINT when it detaches the copy."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 5:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    found = {e.errno for e in chain if isinstance(e, OSError)}
    text = " ".join(str(e).lower() for e in chain)
    said = first_line(exc).strip()
    if isinstance(exc, OSError):
        where = exc.filename2 or exc.filename
        said = f"{exc.strerror or exc}" + (f": {where}" if where else "")
    for errnos, words, what, todo in MACHINE_FAILURES:
        if found & errnos or any(w in text for w in words):
            return f"{what} ({said}){todo}"
    if found & {errno.EACCES, errno.EPERM} or "permission denied" in text:
        return f"RadQA may not write there ({said}); check the folder's permissions"
    if found & {errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST}:
        return f"a folder is in the way ({said}); move it aside"
    if "checkpoint" in text:  # DuckDB could not write the copy out; it does not say why
        return f"the copy could not be written to disk, most often a full disk ({said})"
    return said
