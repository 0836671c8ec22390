"""Case reviews: the dashboard's own small store, DATA_DIR/reviews.sqlite.

The DuckDB snapshot is read-only for the dashboard, so a reviewer's verdict on a discordant case
(AI error, reference error, ambiguous, technical) lives in this separate SQLite file, keyed on the
pseudonymised study id, finding and model. Every review is kept (the latest one counts).

A reviewer is stored as their pseudonym (:func:`dashboard.auth.user_pseudonym`), never by
e-mail or name. A reviews.sqlite written before that (``user_version`` 0) held raw identities:
:func:`upgrade` replaces each by :func:`dashboard.auth.legacy_pseudonym` when the page opens
it, and no review is added to it before that.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pandas as pd

from dashboard.auth import LOCAL_USER, legacy_pseudonym
from ingest.pseudonym import load_key
from radqa.errors import ConfigError, InputError

REVIEWS_FILE = "reviews.sqlite"
CATEGORIES = ("AI error", "reference error", "ambiguous", "technical")
#: ``pragma user_version`` of a reviews.sqlite this code writes: 1 = reviewers pseudonymised
SCHEMA_VERSION = 1
_PSEUDONYM = re.compile(r"[0-9a-f]{24}")

_SCHEMA = """
create table if not exists reviews (
    id          integer primary key autoincrement,
    study_uid   text not null,
    finding     text not null,
    model_name  text not null,
    category    text not null,
    comment     text not null default '',
    reviewer    text not null,
    reviewed_at text not null,
    snapshot_id text
)
"""


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
    """Whether reviews.sqlite is from an older RadQA (raw reviewer identities)."""
    if not reviews_path(data_dir).exists():
        return False
    con = _connect(data_dir)
    try:
        return _version(con) < SCHEMA_VERSION
    finally:
        con.close()


def upgrade(data_dir: Path) -> str | None:
    """Bring an older reviews.sqlite to :data:`SCHEMA_VERSION`; ``None`` when done, else why
    not (the pseudonymisation key cannot be read).

    Version 0 kept each reviewer's e-mail, name or subject: each is replaced by
    :func:`dashboard.auth.legacy_pseudonym` of it ('local', the user without login, stays).
    """
    if not needs_upgrade(data_dir):
        return None
    try:
        key = load_key(Path(data_dir), create=False)
    except ConfigError as exc:
        return (
            f"{reviews_path(data_dir)} holds reviewer identities from an older RadQA, which "
            f"must be replaced by pseudonyms before a review is added or shown: {exc}"
        )
    con = _connect(data_dir)
    try:
        con.execute("pragma secure_delete = on")  # the replaced identities leave no trace
        with con:
            con.execute("begin immediate")
            if _version(con) < 1:
                raw = [r for (r,) in con.execute("select distinct reviewer from reviews")]
                con.executemany(
                    "update reviews set reviewer = ? where reviewer = ?",
                    [(legacy_pseudonym(key, r), r) for r in raw if r != LOCAL_USER],
                )
            con.execute(f"pragma user_version = {SCHEMA_VERSION}")
        con.execute("vacuum")
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


def add_review(
    data_dir: Path,
    *,
    study_uid: str,
    finding: str,
    model_name: str,
    category: str,
    comment: str,
    reviewer: str,
    snapshot_id: str | None = None,
) -> None:
    """Record one review; InputError for a category outside :data:`CATEGORIES`."""
    if category not in CATEGORIES:
        raise InputError(
            f"review category is {category!r}; expected one of: {', '.join(CATEGORIES)}"
        )
    if reviewer != LOCAL_USER and not _PSEUDONYM.fullmatch(reviewer):
        raise InputError(
            f"reviewer is {reviewer!r}; expected a pseudonym (dashboard.auth.user_pseudonym): "
            "no raw identity is stored"
        )
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    con = _connect(data_dir)
    if _version(con) < SCHEMA_VERSION:
        con.close()
        raise InputError(
            f"{reviews_path(data_dir)} holds reviewer identities from an older RadQA; "
            "it is migrated (dashboard._reviews.upgrade) before a review is added"
        )
    with con:
        con.execute(
            "insert into reviews (study_uid, finding, model_name, category, comment, reviewer,"
            " reviewed_at, snapshot_id) values (?, ?, ?, ?, ?, ?, ?, ?)",
            (study_uid, finding, model_name, category, comment, reviewer, now, snapshot_id),
        )
    con.close()


def latest_reviews(data_dir: Path) -> pd.DataFrame:
    """The latest review per (study_uid, finding, model_name)."""
    columns = [
        "study_uid",
        "finding",
        "model_name",
        "category",
        "comment",
        "reviewer",
        "reviewed_at",
    ]
    if not reviews_path(data_dir).exists():
        return pd.DataFrame(columns=columns)
    con = _connect(data_dir)
    try:
        rows = con.execute(
            """
            select study_uid, finding, model_name, category, comment, reviewer, reviewed_at
            from reviews as r
            where id = (select max(id) from reviews as q
                        where q.study_uid = r.study_uid and q.finding = r.finding
                          and q.model_name = r.model_name)
            order by reviewed_at desc
            """
        ).fetchall()
    finally:
        con.close()
    return pd.DataFrame(rows, columns=columns)
