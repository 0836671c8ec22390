"""RadQA: clinical validation and performance monitoring of radiology AI."""

__version__ = "0.1.0"
