"""Open an input file (CSV, Parquet, JSON Lines) as a DuckDB table function with row numbers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Source:
    """A readable input file: the SQL that scans it and its columns (original spelling)."""

    path: Path
    fmt: str
    columns: tuple[str, ...]

    @property
    def lowered(self) -> tuple[str, ...]:
        return tuple(c.strip().lower() for c in self.columns)

    def scan_sql(self) -> str:
        """SELECT of every row: ``_rn`` (1-based data row) and the columns under lower-case names."""
        cols = ", ".join(
            f"{_q(orig)} as {_q(low)}" for orig, low in zip(self.columns, self.lowered, strict=True)
        )
        if self.fmt == "parquet":
            return (
                f"select file_row_number + 1 as _rn, {cols} "
                "from read_parquet($path, file_row_number = true)"
            )
        return f"select row_number() over () as _rn, {cols} from {_reader_sql(self.fmt)}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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


def open_source(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    """Check that ``path`` can be read and learn its columns; FileRefusedError when it cannot."""
    fmt = file_format(path)
    if not path.is_file():
        raise FileRefusedError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise FileRefusedError(f"{path.name}: the file is empty; expected a header row and data")
    try:
        described = con.execute(f"describe select * from {_reader_sql(fmt)}", {"path": str(path)})
        columns = tuple(row[0] for row in described.fetchall())
    except duckdb.Error as exc:
        raise FileRefusedError(
            f"{path.name}: cannot be read as {fmt.upper()}: {_short(exc)}"
        ) from exc
    source = Source(path, fmt, columns)
    lowered = source.lowered
    dupes = sorted({c for c in lowered if lowered.count(c) > 1})
    if dupes:
        raise FileRefusedError(
            f"{path.name}: column names repeat (case-insensitive): {', '.join(dupes)}; "
            "expected each column once"
        )
    return source


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if "unicode" in first.lower() or "utf-8" in first.lower() or "utf8" in first.lower():
        return "the bytes are not valid UTF-8 text; save the file as UTF-8"
    return first[:300]
