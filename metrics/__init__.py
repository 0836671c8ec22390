"""Statistics for RadQA: every number on a page or in a report comes from here.

Public names are listed in ``__all__``; the work lives in the private modules.
"""

from metrics._types import Estimate, TestResult

__all__ = ["Estimate", "TestResult"]
