"""Keyed pseudonymisation of patient and reader identifiers (HMAC-SHA256).

The key lives outside the database: ``RADQA_PSEUDO_KEY`` (hex or any text), else the file
``pseudo.key`` in the data dir, created on first use with mode 0600. The same id always maps to the
same pseudonym under the same key; without the key a pseudonym cannot be turned back.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from radqa.errors import ConfigError

KEY_ENV = "RADQA_PSEUDO_KEY"
KEY_FILE = "pseudo.key"
PREFIX_LEN = 24  # hex characters kept: 96 bits, collision-free at any hospital's scale


MIN_KEY_BYTES = 16


def load_key(data_dir: Path) -> bytes:
    """The pseudonymisation key: from the environment, else the data dir's key file (created 0600).

    A key shorter than 16 bytes is refused: with one known id and its pseudonym, a short key
    (a word, a site name) can be guessed, and then every pseudonym turned back by trying ids."""
    env = os.environ.get(KEY_ENV)
    if env:
        return _long_enough(env.encode(), KEY_ENV)
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return _long_enough(path.read_text().strip().encode(), str(path))


def _long_enough(key: bytes, where: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"the pseudonymisation key in {where} is {len(key)} bytes long; expected at least "
            f"{MIN_KEY_BYTES} (a random one: python3 -c 'import secrets; "
            "print(secrets.token_hex(32))')"
        )
    return key


def pseudonymise(key: bytes, identifier: str) -> str:
    """HMAC-SHA256 of ``identifier`` under ``key``, as a short hex string."""
    return hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()[:PREFIX_LEN]


def pseudonymiser(key: bytes) -> Callable[[str | None], str | None]:
    """A function mapping an id to its pseudonym (None stays None), for DuckDB's create_function."""

    def apply(identifier: str | None) -> str | None:
        if identifier is None:
            return None
        return hmac.new(key, identifier.encode(), hashlib.sha256).hexdigest()[:PREFIX_LEN]

    return apply
