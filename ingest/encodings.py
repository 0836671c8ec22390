"""Text files in encodings other than UTF-8: declared by the user, guessed for a hint, decoded.

Excel on Japanese and Korean Windows saves "CSV" in the system's code page: cp932 (Shift-JIS)
and cp949 (EUC-KR). DuckDB reads UTF-8, UTF-16 and Latin-1 itself; its reader of other
encodings is an extension this machine cannot download, so a file declared in another encoding
is decoded by Python's codec, block by block, into a UTF-8 copy that DuckDB reads. The copy holds
the file's raw ids as the file itself does: it is written to the writer's private scratch folder
(:func:`radqa.store.scratch_dir`, mode 0700), removed as soon as DuckDB has read it, and by the
next writer if this one is killed first.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from radqa.errors import FileRefusedError, InputError

# read_csv's own encodings, by Python's name of the codec
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1"}

# The encodings a refused file's bytes are tried in for the hint, and what they are.
KNOWN = {
    "cp949": "Korean text in cp949 (EUC-KR, as Korean Windows and Excel write it)",
    "cp932": "Japanese text in cp932 (Shift-JIS, as Japanese Windows and Excel write it)",
    "cp1252": "Western European text in cp1252 (as Windows writes it)",
}
SUGGESTION = (
    "give its encoding with --encoding (cp932 for Japanese Windows, cp949 for Korean Windows, "
    "cp1252 for Western European Windows) or save it as UTF-8"
)
BLOCK = 1 << 20


def codec_name(encoding: str) -> str:
    """Python's name of the codec ``encoding`` names (``Shift_JIS`` -> ``shift_jis``,
    ``latin-1`` -> ``iso8859-1``); InputError when there is none."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        info = None
    # codecs also knows transforms such as base64 and rot13, which are not text encodings
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise InputError(
            f"unknown encoding {encoding!r}; expected the name of a text encoding such as cp932 "
            "(Japanese Windows), cp949 (Korean Windows), cp1252 or utf-8"
        )
    return info.name


@contextmanager
def decoded(
    path: Path, fmt: str, encoding: str | None, scratch: Path
) -> Iterator[tuple[Path, str | None]]:
    """The file DuckDB reads for ``path`` and the encoding it reads it in.

    ``encoding`` None (not declared): ``path`` as it is, its encoding told by the reader (UTF-8,
    or UTF-16 little-endian with a byte-order mark). A text file that starts with another UTF-16
    or UTF-32 byte-order mark (:func:`bom_codec`; a JSON Lines file: any), whatever is declared,
    is decoded by the mark's codec, as below. Parquet stores text as UTF-8: ``path`` as it is. An
    encoding DuckDB reads itself (CSV in UTF-8, UTF-16 or Latin-1): ``path`` in that encoding.
    Any other: a UTF-8 copy in folder ``scratch``, removed when the block ends (its name,
    ``radqa_<pid>_...``, tells :func:`radqa.store.connect_working` whose it is).
    FileRefusedError when the bytes are not text in the declared encoding, naming the line.

    A file declared in a legacy encoding (cp932, Latin-1, ...) whose bytes are all UTF-8 is read
    as UTF-8: text in those encodings with any letter beyond ASCII is almost never valid UTF-8,
    and ASCII reads the same in both. So a UTF-8 file among files declared cp932 keeps its
    Japanese letters instead of being decoded into wrong ones.
    """
    codec = codec_name(encoding) if encoding else None
    # A UTF-16 or UTF-32 byte-order mark wins over a declared encoding: no legacy encoding's
    # text starts with those bytes, and a cron job may pass --encoding cp932 to every file.
    mark = None if fmt == "parquet" else bom_codec(path)
    # DuckDB reads UTF-16 little-endian CSV itself; Python's UTF-16 and UTF-32 codecs read the
    # others, and drop the byte-order mark
    if mark == "utf-16-le" and fmt == "csv":
        yield path, "utf-16"
        return
    if mark is not None:
        codec, encoding = mark[:6], mark
    elif codec is None or fmt == "parquet" or codec in ("utf-8", "utf-8-sig"):
        yield path, ("utf-8" if codec else None)
        return
    elif not codec.startswith("utf") and _all_utf8(path):
        yield path, "utf-8"
        return
    elif fmt == "csv" and codec in DUCKDB_ENCODINGS:
        yield path, DUCKDB_ENCODINGS[codec]
        return
    fd, name = tempfile.mkstemp(prefix=f"radqa_{os.getpid()}_", suffix=".txt", dir=scratch)
    try:
        with os.fdopen(fd, "wb") as copy:
            _transcode(path, fmt, codec, encoding or codec, copy)
        yield Path(name), "utf-8"
    finally:
        os.unlink(name)


def _transcode(path: Path, fmt: str, codec: str, declared: str, out: IO[bytes]) -> None:
    """Write ``path``'s text, decoded from ``codec``, to ``out`` in UTF-8."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    line = 1
    with _open_bytes(path) as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as exc:
                line += block.count(b"\n", 0, max(exc.start, 0))
                raise FileRefusedError(
                    f"{path.name}: cannot be read as {fmt.upper()}: near line {line}: the bytes "
                    f"are not valid {declared} text"
                ) from None
            line += text.count("\n")
            out.write(text.encode("utf-8"))
        try:
            out.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError:
            raise FileRefusedError(
                f"{path.name}: cannot be read as {fmt.upper()}: near line {line}: the file ends "
                f"inside a {declared} character"
            ) from None


def _open_bytes(path: Path) -> io.BufferedIOBase:
    """``path`` opened for reading its bytes, a gzip-compressed file (named .gz or not)
    decompressed."""
    if path.name.lower().endswith(".zst"):
        raise FileRefusedError(
            f"{path.name}: a zstd-compressed file is read only in UTF-8, UTF-16 or Latin-1; "
            "decompress it (zstd -d) or save it as UTF-8"
        )
    with open(path, "rb") as fh:
        compressed = fh.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if compressed else open(path, "rb")


GZIP_MAGIC = b"\x1f\x8b"
# What a file that is not text is, by its first bytes, and what to do with it.
SAVE_AS_CSV = "save it as CSV UTF-8 (Excel: File > Save As > CSV UTF-8) and load that"
BINARY = {
    "xlsx": f"it is an Excel workbook (.xlsx), not text; {SAVE_AS_CSV}",
    "xls": f"it is an Excel 97-2003 workbook (.xls) or another Office file, not text; {SAVE_AS_CSV}",
    "zip": "it is a ZIP archive; unzip it and load the files in it",
    "pdf": "it is a PDF document, not a table; export the data as CSV from the system that made it",
    "parquet": "it is a Parquet file; name it .parquet",
    "gzip": "it is gzip-compressed; decompress it (gunzip): Parquet files are read as they are",
    "zstd": "it is zstd-compressed; name it so (.csv.zst, .jsonl.zst), or decompress it (zstd -d)",
}
_MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
    (b"%PDF", "pdf"),
    (b"PAR1", "parquet"),
    (GZIP_MAGIC, "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def binary_kind(path: Path) -> str | None:
    """What ``path`` is by its first bytes when it is not plain text (a key of :data:`BINARY`;
    'xlsx' for a ZIP archive that holds an Excel workbook), else None. A .zst file is taken as
    named (``zstd`` only for one that is not)."""
    try:
        with open(path, "rb") as fh:
            start = fh.read(8)
            kind = next((k for magic, k in _MAGIC if start.startswith(magic)), None)
            if kind == "zip":  # a workbook's parts are named xl/...: near the start or the end
                head = fh.read(1 << 16)
                fh.seek(max(0, path.stat().st_size - (1 << 16)))
                kind = "xlsx" if b"xl/" in head or b"xl/" in fh.read() else kind
    except OSError:
        return None  # reading the file says what is wrong
    if kind == "zstd" and path.name.lower().endswith(".zst"):
        return None
    return kind


# Byte-order marks and the codec each starts, longest first (UTF-32-LE's starts as UTF-16-LE's)
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def bom_codec(path: Path) -> str | None:
    """The UTF-16 or UTF-32 codec whose byte-order mark ``path`` starts with (``utf-16-le`` for
    Excel's "Unicode Text" export, ``utf-16-be``, ``utf-32-le``, ``utf-32-be``), else None."""
    try:
        with _open_bytes(path) as fh:
            start = fh.read(4)
    except (OSError, EOFError, FileRefusedError):  # .zst: DuckDB reads it, in UTF-8
        return None  # reading the file says what is wrong
    return next((codec for mark, codec in BOMS if start.startswith(mark)), None)


def bom_encoding(path: Path) -> str:
    """DuckDB's encoding of a CSV file read with none declared: 'utf-16' when it starts with the
    UTF-16 little-endian byte-order mark (Excel's "Unicode Text" export), else 'utf-8'. Other
    byte-order marks are read through a UTF-8 copy (:func:`decoded`); other encodings are not
    guessed to read a file (:func:`guess` only suggests one)."""
    return "utf-16" if bom_codec(path) == "utf-16-le" else "utf-8"


def guess(path: Path) -> tuple[str, ...]:
    """The encodings (keys of :data:`KNOWN`) the first bytes of ``path`` that are not UTF-8 read
    as: none, one, or both cp949 and cp932 when the bytes read as either. A hint for a refusal
    message, never used to read the file.

    Korean when they decode as EUC-KR with Hangul in them (or as cp949, its superset, when they
    do not decode as Shift-JIS); Japanese when they decode as Shift-JIS with kana or kanji. The
    two overlap: Shift-JIS's half-width katakana (ｱｲｳ, common in older Japanese systems) are
    the bytes of EUC-KR's Hangul, and Hangul decodes as Shift-JIS half-width katakana. Then both
    are named, rather than a guess that would load the wrong letters. Else cp1252 when they
    decode with accented Latin letters."""
    sample = _undecodable_sample(path)
    if not sample:
        return ()
    korean = _decodes(sample, "euc_kr", _has_hangul)
    japanese = _decodes(sample, "cp932", _has_japanese)
    if korean and japanese:
        return ("cp949", "cp932")
    if japanese:
        return ("cp932",)
    if korean or _decodes(sample, "cp949", _has_hangul):
        return ("cp949",)
    if _decodes(sample, "cp1252", _has_accented_latin):
        return ("cp1252",)
    return ()


def _decodes(sample: bytes, codec: str, test: Callable[[str], bool]) -> bool:
    """Whether ``sample`` decodes in ``codec`` into text that passes ``test``."""
    try:
        return test(sample.decode(codec))
    except UnicodeDecodeError:
        return False


def _first_not_utf8(path: Path, size: int = 1 << 16) -> bytes | None:
    """Up to ``size`` bytes of whole lines from the line holding the first byte of ``path`` that
    is not UTF-8 (b'' when the file ends inside a character); None when all of it is UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    with _open_bytes(path) as fh:
        for block in iter(lambda: fh.read(BLOCK), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                start = block.rfind(b"\n", 0, max(exc.start, 0)) + 1
                sample = (block[start:] + fh.read(size))[:size]
                end = sample.rfind(b"\n")
                return sample[:end] if end > 0 else sample
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return b""  # the file ends inside a character: no sample
    return None


def _all_utf8(path: Path) -> bool:
    """Whether every byte of ``path`` is UTF-8 (False for a .zst file, which Python cannot read
    here: DuckDB reads it in Latin-1, and decoding it in another encoding refuses it)."""
    try:
        return _first_not_utf8(path) is None
    except FileRefusedError:
        return False


def _undecodable_sample(path: Path) -> bytes:
    """:func:`_first_not_utf8`, or b'' when there is no such byte or the file cannot be read."""
    try:
        return _first_not_utf8(path) or b""
    except (OSError, FileRefusedError, EOFError):
        return b""


def _has_hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def _has_japanese(text: str) -> bool:
    """Kana (full- or half-width) or kanji."""
    return any(
        "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" or "\uff61" <= ch <= "\uff9f"
        for ch in text
    )


def _has_accented_latin(text: str) -> bool:
    return any("\u00c0" <= ch <= "\u024f" for ch in text)


def hint(path: Path) -> str:
    """What to do with a text file that is not UTF-8: load it in the encoding its bytes read
    as, when :func:`guess` finds one (or which of two to try), else :data:`SUGGESTION`."""
    found = guess(path)
    if not found:
        return SUGGESTION
    if len(found) == 1:
        return (
            f"they read as {KNOWN[found[0]]}: load it with --encoding {found[0]}, or save it as "
            "UTF-8"
        )
    return (
        f"they read as {' or as '.join(KNOWN[f] for f in found)}: load it with "
        f"{' or '.join(f'--encoding {f}' for f in found)}, whichever shows its text right, or "
        "save it as UTF-8"
    )
