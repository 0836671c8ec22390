"""One exception tree for RadQA (library code raises these; the CLI and pages present them)."""

from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """An error's first line, for a one-line message: DuckDB's messages run on over lines (and
    quote the offending input); an exception whose first argument is its text and the rest
    advice (choreographer's) gives that text alone."""
    text = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
    lines = text.strip().splitlines()
    return lines[0] if lines else type(exc).__name__


class RadQAError(Exception):
    """Base class of every error RadQA raises on purpose."""


class InputError(ValueError, RadQAError):
    """Input data or arguments break a documented rule."""


class FileRefusedError(InputError):
    """A whole input file cannot be read (format, encoding, missing columns, empty)."""


class ConfigError(RadQAError):
    """A setting or configuration file is missing or invalid."""


class StoreError(RadQAError):
    """The database is missing, locked or of an unknown schema version."""


class InsufficientDataError(InputError):
    """There is too little data for the requested statistic."""
