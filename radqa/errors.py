"""One exception tree for RadQA (library code raises these; the CLI and pages present them)."""

from __future__ import annotations


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
