"""Statistics for RadQA: every number on a page or in a report comes from here.

Public names are listed in ``__all__``; the work lives in the private modules.
"""

from metrics._agreement import (
    cohen_kappa,
    cohen_kappa_table,
    counts_from_ratings,
    fleiss_kappa,
    fleiss_kappa_by_category,
    fleiss_kappa_test,
    gwet_ac1,
    gwet_ac1_table,
    percent_agreement,
    percent_agreement_table,
)
from metrics._mrmc import MRMCResult, ORAnalysis, ORVarianceComponents, mrmc
from metrics._roc import compare_aucs, roc_auc
from metrics._types import Estimate, TestResult

__all__ = [
    "MRMCResult",
    "ORAnalysis",
    "ORVarianceComponents",
    "cohen_kappa",
    "cohen_kappa_table",
    "compare_aucs",
    "counts_from_ratings",
    "fleiss_kappa",
    "fleiss_kappa_by_category",
    "fleiss_kappa_test",
    "gwet_ac1",
    "gwet_ac1_table",
    "mrmc",
    "percent_agreement",
    "percent_agreement_table",
    "roc_auc",
    "Estimate",
    "TestResult",
]
