"""Case reviews: the dashboard's own small store, DATA_DIR/reviews.sqlite.

The DuckDB snapshot is read-only for the dashboard, so a reviewer's verdict on a discordant case
(AI error, reference error, ambiguous, technical) lives in this separate SQLite file, keyed on
the case: study id, finding, model and model version (a review of version 2.1 does not cover
the 2.3 prediction of the same study). The table is append-only: a review that replaces another,
and a withdrawal, are new rows; the latest row of a case counts (a withdrawal leaves the case
unreviewed), and :func:`history` lists them all.

A reviewer is stored as their pseudonym (:func:`dashboard.auth.user_pseudonym`), never by
e-mail or name. A reviews.sqlite of an older RadQA is brought up to date by :func:`upgrade`
when the page opens it, and no review is added to it before that: version 0 kept raw
identities (each is replaced by :func:`dashboard.auth.legacy_pseudonym`) and no model version
(a review gets the one version its case has among the snapshot's discordant cases; with none or
several it keeps no version and covers no case, but stays in the history).
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from dashboard.auth import LOCAL_USER, key_problem, legacy_pseudonym
from ingest.pseudonym import load_key
from radqa.errors import ConfigError, InputError

REVIEWS_FILE = "reviews.sqlite"
CATEGORIES = ("AI error", "reference error", "ambiguous", "technical")
#: what identifies a case
CASE_KEY = ("study_uid", "finding", "model_name", "model_version")
MAX_COMMENT = 2000
#: ``pragma user_version`` this code writes: 1 = reviewers pseudonymised; 2 = model_version
#: and action (review / withdraw) columns
SCHEMA_VERSION = 2
#: ``expected_latest`` meaning "whatever the latest row is" (no check)
ANY_LATEST = -1
_PSEUDONYM = re.compile(r"[0-9a-f]{24}")

_SCHEMA = """
create table if not exists reviews (
    id            integer primary key autoincrement,
    study_uid     text not null,
    finding       text not null,
    model_name    text not null,
    category      text not null,
    comment       text not null default '',
    reviewer      text not null,
    reviewed_at   text not null,
    snapshot_id   text,
    model_version text,
    action        text not null default 'review'
)
"""
_COLUMNS = [*CASE_KEY, "action", "category", "comment", "reviewer", "reviewed_at", "id"]
_SELECT = f"select {', '.join(_COLUMNS)} from reviews"
_SAME_CASE = """
    q.study_uid = r.study_uid and q.finding = r.finding and q.model_name = r.model_name
    and q.model_version is r.model_version
"""

Case = tuple[str, str, str, str | None]


class ReviewChanged(InputError):
    """The case's latest review is not the one the reviewer saw."""


def reviews_path(data_dir: Path) -> Path:
    return Path(data_dir) / REVIEWS_FILE


def _connect(data_dir: Path) -> sqlite3.Connection:
    path = reviews_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=10)
    with con:
        new = not con.execute("select 1 from sqlite_master where name = 'reviews'").fetchall()
        con.execute(_SCHEMA)
        if new:
            con.execute(f"pragma user_version = {SCHEMA_VERSION}")
    return con


def _version(con: sqlite3.Connection) -> int:
    return int(con.execute("pragma user_version").fetchone()[0])


def needs_upgrade(data_dir: Path) -> bool:
    """Whether reviews.sqlite is from an older RadQA."""
    if not reviews_path(data_dir).exists():
        return False
    con = _connect(data_dir)
    try:
        return _version(con) < SCHEMA_VERSION
    finally:
        con.close()


def upgrade(
    data_dir: Path,
    versions: Callable[[], Mapping[tuple[str, str, str], str]] | None = None,
) -> str | None:
    """Bring an older reviews.sqlite to :data:`SCHEMA_VERSION`; ``None`` when done, else why
    not (the pseudonymisation key cannot be read).

    Version 0 kept each reviewer's e-mail, name or subject: each is replaced by
    :func:`dashboard.auth.legacy_pseudonym` of it ('local', the user without login, stays).
    Version 1 had no model version: ``versions()`` gives the one model version of each
    (study_uid, finding, model_name) that has exactly one (called only when needed).
    """
    if not needs_upgrade(data_dir):
        return None
    con = _connect(data_dir)
    try:
        if _version(con) < 1:
            try:
                key = load_key(Path(data_dir), create=False)
            except ConfigError as exc:  # said without the server's paths: any viewer sees it
                return (
                    f"{REVIEWS_FILE} in the data directory holds reviewer identities from an "
                    "older RadQA, which must be replaced by pseudonyms before a review is added: "
                    f"{key_problem(data_dir, exc)}"
                )
            con.execute("pragma secure_delete = on")  # the replaced identities leave no trace
            with con:
                con.execute("begin immediate")
                raw = [r for (r,) in con.execute("select distinct reviewer from reviews")]
                con.executemany(
                    "update reviews set reviewer = ? where reviewer = ?",
                    [(legacy_pseudonym(key, r), r) for r in raw if r != LOCAL_USER],
                )
                con.execute("pragma user_version = 1")
            con.execute("vacuum")
        if _version(con) < 2:
            found = versions() if versions is not None else {}
            with con:
                con.execute("begin immediate")
                columns = {row[1] for row in con.execute("pragma table_info(reviews)")}
                if "model_version" not in columns:
                    con.execute("alter table reviews add column model_version text")
                if "action" not in columns:
                    con.execute(
                        "alter table reviews add column action text not null default 'review'"
                    )
                cases = con.execute(
                    "select distinct study_uid, finding, model_name from reviews"
                    " where model_version is null"
                ).fetchall()
                con.executemany(
                    "update reviews set model_version = ?"
                    " where study_uid = ? and finding = ? and model_name = ?"
                    " and model_version is null",
                    [(found[c], *c) for c in cases if c in found],
                )
                con.execute(f"pragma user_version = {SCHEMA_VERSION}")
    finally:
        con.close()
    return None


def shown_reviewer(reviewer: str, me: str) -> str:
    """How the page names a reviewer: 'you' (the current user), a short pseudonym for others,
    and never a value that is not a pseudonym (a raw identity not migrated yet)."""
    if reviewer == me:
        return "you"
    if reviewer == LOCAL_USER:
        return "local user"
    if _PSEUDONYM.fullmatch(reviewer):
        return reviewer[:8]
    return "(not pseudonymised)"


def _writable(con: sqlite3.Connection, data_dir: Path, reviewer: str) -> None:
    if reviewer != LOCAL_USER and not _PSEUDONYM.fullmatch(reviewer):
        raise InputError(
            f"reviewer is {reviewer!r}; expected a pseudonym (dashboard.auth.user_pseudonym): "
            "no raw identity is stored"
        )
    if _version(con) < SCHEMA_VERSION:
        raise InputError(
            f"{reviews_path(data_dir)} is from an older RadQA; it is brought up to date "
            "(dashboard._reviews.upgrade) before a review is added"
        )


def _latest(con: sqlite3.Connection, case: Case) -> dict[str, Any] | None:
    row = con.execute(
        f"{_SELECT} where study_uid = ? and finding = ? and model_name = ?"
        " and model_version is ? order by id desc limit 1",
        case,
    ).fetchone()
    return dict(zip(_COLUMNS, row, strict=True)) if row else None


def _check_latest(latest: dict[str, Any] | None, expected: int | None, case: Case) -> None:
    found = latest["id"] if latest else None
    if expected != ANY_LATEST and found != expected:
        done = {"review": "reviewed", "withdraw": "review withdrawn"}
        what = (
            f"{done[latest['action']]} by {latest['reviewer'][:8]} on {latest['reviewed_at']}"
            if latest
            else "its review was removed"
        )
        raise ReviewChanged(
            f"the review of {' · '.join(str(p) for p in case)} changed while the form was "
            f"open ({what}); nothing was saved"
        )


def latest_for(data_dir: Path, case: Case) -> dict[str, Any] | None:
    """The latest row of ``case`` (a review or a withdrawal), or None."""
    if not reviews_path(data_dir).exists():
        return None
    con = _connect(data_dir)
    try:
        return _latest(con, case)
    finally:
        con.close()


def add_review(
    data_dir: Path,
    *,
    study_uid: str,
    finding: str,
    model_name: str,
    model_version: str | None,
    category: str | None,
    comment: str,
    reviewer: str,
    snapshot_id: str | None = None,
    expected_latest: int | None = ANY_LATEST,
) -> dict[str, Any] | None:
    """Record one review and return the review it replaces (None when the case had none).

    InputError for no category (None or empty: the reviewer chose none) or one outside
    :data:`CATEGORIES`, a comment longer than
    :data:`MAX_COMMENT` or a reviewer that is not a pseudonym; :class:`ReviewChanged` when
    ``expected_latest`` (the id of the case's latest row the reviewer saw, None for none) is
    given and the case's latest row is another one.
    """
    if not category:
        raise InputError(f"no review category was chosen; expected one of: {', '.join(CATEGORIES)}")
    if category not in CATEGORIES:
        raise InputError(
            f"review category is {category!r}; expected one of: {', '.join(CATEGORIES)}"
        )
    if len(comment) > MAX_COMMENT:
        raise InputError(
            f"the comment has {len(comment):,} characters; at most {MAX_COMMENT:,} are kept"
        )
    case: Case = (study_uid, finding, model_name, model_version)
    latest = _append(
        data_dir, case, "review", reviewer, snapshot_id, expected_latest, category, comment
    )
    return latest if latest and latest["action"] == "review" else None


def withdraw_review(
    data_dir: Path,
    case: Case,
    *,
    reviewer: str,
    snapshot_id: str | None = None,
    expected_latest: int | None = ANY_LATEST,
) -> dict[str, Any]:
    """Withdraw ``reviewer``'s review of ``case`` (a new row; the case is unreviewed again)
    and return the review withdrawn.

    InputError when the case's latest row is not a review by ``reviewer``.
    """

    def yours(latest: dict[str, Any] | None) -> None:
        if not latest or latest["action"] != "review" or latest["reviewer"] != reviewer:
            raise InputError(
                f"{' · '.join(str(p) for p in case)} has no review of yours to withdraw"
                " (only the latest review of a case can be withdrawn, by its reviewer)"
            )

    latest = _append(
        data_dir, case, "withdraw", reviewer, snapshot_id, expected_latest, check=yours
    )
    assert latest is not None  # yours() refused otherwise
    return latest


def _append(
    data_dir: Path,
    case: Case,
    action: str,
    reviewer: str,
    snapshot_id: str | None,
    expected_latest: int | None,
    category: str = "",
    comment: str = "",
    *,
    check: Callable[[dict[str, Any] | None], None] | None = None,
) -> dict[str, Any] | None:
    """Append one ``action`` row to ``case``'s history in one transaction, once its latest row
    is still the one the reviewer saw (:func:`_check_latest`) and passes ``check``; return that
    latest row (None when the case had none)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    con = _connect(data_dir)
    try:
        _writable(con, data_dir, reviewer)
        with con:
            con.execute("begin immediate")
            latest = _latest(con, case)
            _check_latest(latest, expected_latest, case)
            if check is not None:
                check(latest)
            con.execute(
                "insert into reviews (study_uid, finding, model_name, model_version, action,"
                " category, comment, reviewer, reviewed_at, snapshot_id)"
                " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*case, action, category, comment, reviewer, now, snapshot_id),
            )
    finally:
        con.close()
    return latest


def latest_reviews(data_dir: Path) -> pd.DataFrame:
    """The latest review per case (:data:`CASE_KEY`); a case whose latest row is a withdrawal
    is not listed."""
    columns = [*CASE_KEY, "category", "comment", "reviewer", "reviewed_at"]
    if not reviews_path(data_dir).exists():
        return pd.DataFrame(columns=columns)
    con = _connect(data_dir)
    try:
        if _version(con) < SCHEMA_VERSION:  # no model version yet: cover no case
            return pd.DataFrame(columns=columns)
        rows = con.execute(
            f"""
            select {", ".join(columns)}
            from reviews as r
            where action = 'review'
              and id = (select max(id) from reviews as q where {_SAME_CASE})
            order by reviewed_at desc
            """
        ).fetchall()
    finally:
        con.close()
    return pd.DataFrame(rows, columns=columns)


def history(data_dir: Path, case: Case) -> pd.DataFrame:
    """Every row of ``case``, oldest first: reviews, the ones they replaced, withdrawals."""
    columns = ["reviewed_at", "action", "category", "comment", "reviewer"]
    if not reviews_path(data_dir).exists():
        return pd.DataFrame(columns=columns)
    con = _connect(data_dir)
    try:
        if _version(con) < SCHEMA_VERSION:
            return pd.DataFrame(columns=columns)
        rows = con.execute(
            f"select {', '.join(columns)} from reviews where study_uid = ? and finding = ?"
            " and model_name = ? and model_version is ? order by id",
            case,
        ).fetchall()
    finally:
        con.close()
    return pd.DataFrame(rows, columns=columns)
