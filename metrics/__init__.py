"""Statistics for RadQA: every number on a page or in a report comes from here.

Public names are listed in ``__all__``; the work lives in the private modules.
"""

from metrics._accuracy import DiagnosticAccuracy, diagnostic_accuracy
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
from metrics._calibration import Calibration, calibration
from metrics._cbpe import compare_estimates, estimate_performance, estimated_vs_realised
from metrics._claims import claim_check, group_denominators, heterogeneity_across
from metrics._drift_methods import METHODS, DriftMethod, DriftResult, get_method
from metrics._filters import AGE_BANDS, Filters
from metrics._grouped import (
    discordant_cases,
    label_completeness,
    model_versions,
    overview_counts,
    summarize,
)
from metrics._meta import Heterogeneity, heterogeneity
from metrics._monitor import Alert, MonitorResult, monitor
from metrics._mrmc import MRMCResult, ORAnalysis, ORVarianceComponents, mrmc
from metrics._multiplicity import adjust_pvalues
from metrics._new_category_words import new_category_status, new_category_subject
from metrics._periods import Period, ReferenceWindow, months_in_data
from metrics._proportions import (
    difference_ci,
    paired_difference_ci,
    proportion_ci,
    proportion_ci_arrays,
    risk_ratio_ci,
)
from metrics._roc import compare_aucs, roc_auc
from metrics._rules import (
    REFERENCE_SET,
    Rule,
    data_dir_reference,
    data_dir_rules,
    default_rules,
    ensure_rules_file,
    load_rules,
    rules_file_reference,
)
from metrics._store_agreement import reader_agreement
from metrics._store_health import MonthData, ingest_batches, month_data, quarantine_rows
from metrics._tests2x2 import mcnemar
from metrics._trial import DesignChoice, TrialTables, infer_design, trial_tables
from metrics._types import Estimate, TestResult

__all__ = [
    "REFERENCE_SET",
    "AGE_BANDS",
    "Filters",
    "claim_check",
    "discordant_cases",
    "label_completeness",
    "overview_counts",
    "reader_agreement",
    "rules_file_reference",
    "summarize",
    "DesignChoice",
    "TrialTables",
    "infer_design",
    "trial_tables",
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
    "Calibration",
    "DiagnosticAccuracy",
    "Heterogeneity",
    "adjust_pvalues",
    "calibration",
    "diagnostic_accuracy",
    "difference_ci",
    "heterogeneity",
    "heterogeneity_across",
    "group_denominators",
    "ingest_batches",
    "month_data",
    "MonthData",
    "mcnemar",
    "paired_difference_ci",
    "proportion_ci",
    "quarantine_rows",
    "proportion_ci_arrays",
    "risk_ratio_ci",
    "METHODS",
    "Alert",
    "DriftMethod",
    "DriftResult",
    "MonitorResult",
    "Period",
    "ReferenceWindow",
    "Rule",
    "compare_estimates",
    "default_rules",
    "ensure_rules_file",
    "data_dir_reference",
    "data_dir_rules",
    "estimate_performance",
    "estimated_vs_realised",
    "get_method",
    "load_rules",
    "model_versions",
    "monitor",
    "new_category_status",
    "new_category_subject",
    "months_in_data",
]
