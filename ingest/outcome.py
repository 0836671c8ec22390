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


def in_words(exc: BaseException) -> str:
    """Why a write failed, in words first (a full disk, a folder in the way), then the
    system's or DuckDB's own line. The error's causes are searched too: DuckDB may report a
    full disk as a failed CHECKPOINT when it detaches the copy."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 5:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    errnos = {e.errno for e in chain if isinstance(e, OSError)}
    text = " ".join(str(e).lower() for e in chain)
    said = first_line(exc).strip()
    if isinstance(exc, OSError):
        where = exc.filename2 or exc.filename
        said = f"{exc.strerror or exc}" + (f": {where}" if where else "")
    if errnos & {errno.ENOSPC, errno.EDQUOT} or "no space left" in text or "quota" in text:
        return f"the disk is full ({said}); free disk space"
    if errno.EFBIG in errnos or "file too large" in text:
        return f"a file-size limit was reached ({said})"
    if errno.EROFS in errnos or "read-only file system" in text:
        return f"the disk is read-only ({said})"
    if errnos & {errno.EACCES, errno.EPERM} or "permission denied" in text:
        return f"RadQA may not write there ({said}); check the folder's permissions"
    if errnos & {errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST}:
        return f"a folder is in the way ({said}); move it aside"
    if "checkpoint" in text:  # DuckDB could not write the copy out; it does not say why
        return f"the copy could not be written to disk, most often a full disk ({said})"
    return said
