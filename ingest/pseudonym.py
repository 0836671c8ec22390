"""Keyed pseudonymisation of patient and reader identifiers (HMAC-SHA256).

The key lives outside the database: ``RADQA_PSEUDO_KEY`` (hex or any text), else the file
``pseudo.key`` in the data dir, created on first use with mode 0600. The same id always maps to the
same pseudonym under the same key; without the key a pseudonym cannot be turned back.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import duckdb

from radqa.errors import ConfigError

KEY_ENV = "RADQA_PSEUDO_KEY"
KEY_FILE = "pseudo.key"
PREFIX_LEN = 24  # hex characters kept: 96 bits, collision-free at any hospital's scale


MIN_KEY_BYTES = 16


def load_key(data_dir: Path, *, create: bool = True) -> bytes:
    """The pseudonymisation key: from the environment, else the data dir's key file (created 0600
    when ``create`` and there is none).

    A key shorter than 16 bytes is refused: with one known id and its pseudonym, a short key
    (a word, a site name) can be guessed, and then every pseudonym turned back by trying ids.
    So is a key file that other users may read (as ssh refuses such a private key), and a
    ``RADQA_PSEUDO_KEY`` that is set but empty (a secret that did not mount): that must not
    quietly fall back to another key."""
    env = os.environb.get(KEY_ENV.encode())
    if env is not None:
        if not env.strip():
            raise ConfigError(
                f"{KEY_ENV} is set but empty; set it to the key this data dir was built with, "
                f"or unset it to use {Path(data_dir) / KEY_FILE}"
            )
        return _long_enough(env, KEY_ENV)  # as given: its bytes are the key, spaces included
    path = Path(data_dir) / KEY_FILE
    try:
        if not path.exists() and create:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
        mode = path.stat().st_mode
        key = _file_key(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(_missing(path)) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the pseudonymisation key {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigError(
            f"the pseudonymisation key {path} may be read by other users (mode "
            f"{mode & 0o777:o}); with it every pseudonym can be turned back by trying ids. "
            f"Run: chmod 600 '{path}'"
        )
    return _long_enough(key, str(path))


def _file_key(raw: bytes) -> bytes:
    """The key a key file holds: its text without surrounding whitespace (a newline an editor
    added, Unicode spaces too, as RadQA has always read it); bytes that are not UTF-8 as they are,
    without surrounding ASCII whitespace."""
    try:
        return raw.decode().strip().encode()
    except UnicodeDecodeError:
        return raw.strip()


def _missing(path: Path) -> str:
    return (
        f"the pseudonymisation key {path} is missing, but this data dir holds data pseudonymised "
        "with it: restore the file from your backup (or set RADQA_PSEUDO_KEY to the key). A new "
        "key would give every patient and reader a second pseudonym, and the two would never "
        "join."
    )


def check_key_source(data_dir: Path) -> None:
    """Refuse a key that :func:`load_key` would refuse (short, empty, readable by others) before
    anything is written; a missing key file is not an error here (see :func:`store_key`)."""
    if os.environb.get(KEY_ENV.encode()) is not None or (Path(data_dir) / KEY_FILE).exists():
        load_key(data_dir, create=False)


FINGERPRINT_TEXT = b"radqa pseudonymisation key check"


def fingerprint(key: bytes) -> str:
    """An HMAC of a fixed text under ``key``: tells whether two keys are the same without
    storing either."""
    return hmac.new(key, FINGERPRINT_TEXT, hashlib.sha256).hexdigest()[:PREFIX_LEN]


def store_key(con: duckdb.DuckDBPyConnection, data_dir: Path) -> bytes:
    """The key for writing into the working database behind ``con``: :func:`load_key`, checked
    against the fingerprint the store recorded the first time (``store_meta``).

    A store that holds pseudonyms is never given a new key: when the key file is missing or
    another key is set, ingest stops before a row is written. Quarantined rows hold pseudonyms
    too (a first batch refused by --strict keeps its bad rows). A store without a fingerprint
    (built before schema version 4), or without a pseudonym yet, records the key it is given
    now. The key's bytes are read as before schema version 4 (:func:`load_key`), so an
    upgraded store keeps its pseudonyms."""
    [(recorded,)] = con.execute(
        "select max(value) from store_meta where name = 'key_fingerprint'"
    ).fetchall()
    holds_data = bool(
        con.execute(
            "select exists (select 1 from studies where patient_pid is not null) "
            "or exists (select 1 from reads) or exists (select 1 from quarantine)"
        ).fetchall()[0][0]
    )
    key = load_key(data_dir, create=not holds_data)
    found = fingerprint(key)
    if recorded is None or (recorded != found and not holds_data):
        # first use, or a store without a pseudonym yet (its first batch was refused, say)
        con.execute("insert or replace into store_meta values ('key_fingerprint', ?)", [found])
    elif recorded != found:
        source = KEY_ENV if os.environb.get(KEY_ENV.encode()) else str(Path(data_dir) / KEY_FILE)
        raise ConfigError(
            f"the pseudonymisation key in {source} is not the key this data dir was built with "
            f"(its check value is {found}; the store's is {recorded}). Restore the original key; "
            "another key would give every patient and reader a second pseudonym."
        )
    return key


def _long_enough(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the pseudonymisation key in {where} is {len(key)} bytes long; expected at least "
            f"{MIN_KEY_BYTES} (a random one: python3 -c 'import secrets; "
            "print(secrets.token_hex(32))')"
        )
    return key


# An id typed in full-width characters, as a Japanese IME or Excel enters it (ＰＡＴ１２６), is the
# same id as PAT126: before it is hashed, each full-width form of a printable ASCII character
# (U+FF01-U+FF5E) becomes that character (its code point less WIDTH_OFFSET), and the
# ideographic space (U+3000) a space. The one definition of the folding: fold_id (Python) and
# fold_id_sql (DuckDB) are both built from these four numbers; an id without such a character
# is unchanged, and so is its pseudonym.
FULL_WIDTH_FIRST, FULL_WIDTH_LAST = 0xFF01, 0xFF5E
WIDTH_OFFSET = 0xFEE0  # 0xFF01 - ord("!")
IDEOGRAPHIC_SPACE = 0x3000
_FOLD = {c: c - WIDTH_OFFSET for c in range(FULL_WIDTH_FIRST, FULL_WIDTH_LAST + 1)} | {
    IDEOGRAPHIC_SPACE: ord(" ")
}


def fold_id(identifier: str) -> str:
    """``identifier`` with its full-width characters folded to half-width (``_FOLD``)."""
    return identifier.translate(_FOLD)


# SQL of a column (maybe qualified, maybe quoted) or a parameter, which fold_id_sql reads as is
_PLAIN = re.compile(r'(?:\w+\.)?(?:\w+|"(?:[^"]|"")*")|\$\w+')


def fold_id_sql(expr: str) -> str:
    """SQL of :func:`fold_id` of ``expr`` (SQL of a value, read as VARCHAR). Only a value
    holding a character that is not ASCII (``strlen``, its bytes, exceeds ``length``, its
    characters: a test that costs nothing) is split into its characters and each folded by its
    code point; DuckDB's translate() would build its map of 95 characters anew for each value,
    ten times the cost (about 3 us a value against 0.3 us).

    The value is read four times: a column or a parameter is read as it is; any other
    expression is bound once by a lambda, lest DuckDB take the repeated expression out of a
    CASE (a bad row's values) and compute it for every row."""
    if not _PLAIN.fullmatch(expr):
        return f"list_transform([{expr}], lambda __fold_v: {fold_id_sql('__fold_v')})[1]"
    text = f"cast({expr} as varchar)"
    ch = "__fold_ch"
    code = f"ord({ch})"
    each = (
        f"case when {code} between {FULL_WIDTH_FIRST} and {FULL_WIDTH_LAST} "
        f"then chr({code} - {WIDTH_OFFSET}) when {code} = {IDEOGRAPHIC_SPACE} then ' ' "
        f"else {ch} end"
    )
    return (
        f"case when strlen({text}) > length({text}) then array_to_string(list_transform("
        f"string_split({text}, ''), lambda {ch}: {each}), '') else {text} end"
    )


def hmac_pads(key: bytes) -> dict[str, bytes]:
    """HMAC inner and outer pads (RFC 2104) of ``key``, the parameters $ipad and $opad of the
    SQL form of HMAC-SHA256 (:func:`ingest.validate.pseudonym_sql`)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    block = key.ljust(64, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in block), "opad": bytes(b ^ 0x5C for b in block)}


def keyed_hash(key: bytes, text: str) -> str:
    """HMAC-SHA256 of ``text`` under ``key``, as a short hex string, ``text`` as it is (a user's
    pseudonym, :mod:`dashboard.auth`; an id goes through :func:`pseudonymise`)."""
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:PREFIX_LEN]


def pseudonymise(key: bytes, identifier: str) -> str:
    """The pseudonym of a patient or reader id: HMAC-SHA256 under ``key`` of ``identifier``
    folded to half-width (:func:`fold_id`), as a short hex string; the same as
    :func:`ingest.validate.pseudonym_sql` gives for it in a file."""
    return keyed_hash(key, fold_id(identifier))


def pseudonymiser(key: bytes) -> Callable[[str | None], str | None]:
    """A function mapping an id to its pseudonym (None stays None), for DuckDB's create_function."""

    def apply(identifier: str | None) -> str | None:
        return None if identifier is None else pseudonymise(key, identifier)

    return apply
