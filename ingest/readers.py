"""Open an input file (CSV, Parquet, JSON Lines) as a DuckDB table of raw rows with row numbers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from radqa.errors import FileRefusedError

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}


def file_format(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".gz", ".zst"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    ext = Path(name).suffix
    if ext not in FORMATS:
        raise FileRefusedError(
            f"{path.name}: cannot read files ending in '{ext or '(none)'}'; expected CSV (.csv), "
            "Parquet (.parquet) or JSON Lines (.jsonl)"
        )
    return FORMATS[ext]


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reader_sql(fmt: str) -> str:
    if fmt == "csv":
        return "read_csv($path, header = true, all_varchar = true, auto_detect = true)"
    if fmt == "parquet":
        return "read_parquet($path)"
    return "read_json($path, format = 'newline_delimited', records = true)"


def load_raw(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> list[str]:
    """Read ``path`` into temp table ``table`` with a 1-based ``_rn`` row number.

    Column names are lower-cased. Returns the column names as found in the file (lower case).
    Raises FileRefusedError for a file that cannot be read at all.
    """
    fmt = file_format(path)
    if not path.exists():
        raise FileRefusedError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise FileRefusedError(f"{path.name}: the file is empty; expected a header row and data")
    try:
        described = con.execute(f"describe select * from {_reader_sql(fmt)}", {"path": str(path)})
        columns = [row[0] for row in described.fetchall()]
    except duckdb.Error as exc:
        raise FileRefusedError(
            f"{path.name}: cannot be read as {fmt.upper()}: {_short(exc)}"
        ) from exc
    lowered = [c.strip().lower() for c in columns]
    dupes = sorted({c for c in lowered if lowered.count(c) > 1})
    if dupes:
        raise FileRefusedError(
            f"{path.name}: column names repeat (case-insensitive): {', '.join(dupes)}; "
            "expected each column once"
        )
    select = ", ".join(f'"{orig}" as "{low}"' for orig, low in zip(columns, lowered, strict=True))
    try:
        con.execute(
            f"create or replace temp table {table} as "
            f"select row_number() over () as _rn, {select} from {_reader_sql(fmt)}",
            {"path": str(path)},
        )
    except duckdb.Error as exc:
        raise FileRefusedError(
            f"{path.name}: cannot be read as {fmt.upper()}: {_short(exc)}"
        ) from exc
    rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    if rows == 0:
        raise FileRefusedError(f"{path.name}: the file has a header but no data rows")
    return lowered


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if "unicode" in first.lower() or "utf-8" in first.lower() or "utf8" in first.lower():
        return "the bytes are not valid UTF-8 text; save the file as UTF-8"
    return first[:300]
