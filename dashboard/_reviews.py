"""Case reviews: the dashboard's own small store, DATA_DIR/reviews.sqlite.

The DuckDB snapshot is read-only for the dashboard, so a reviewer's verdict on a discordant case
(AI error, reference error, ambiguous, technical) lives in this separate SQLite file, keyed on the
pseudonymised study id, finding and model. Every review is kept (the latest one counts).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pandas as pd

from radqa.errors import InputError

REVIEWS_FILE = "reviews.sqlite"
CATEGORIES = ("AI error", "reference error", "ambiguous", "technical")

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
    con.execute(_SCHEMA)
    return con


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
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with _connect(data_dir) as con:
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
