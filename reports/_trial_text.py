"""Words for the trial export: the methods paragraph and the provenance rows.

No statistics here: the paragraph names the methods :func:`metrics.trial_tables` used, so that
a statistician can adapt it for a paper.
"""

from __future__ import annotations

import hashlib
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from metrics import DesignChoice
from radqa import __version__

REFERENCES = [
    "Bossuyt PM et al. STARD 2015. BMJ 2015;351:h5527.",
    "Mongan J, Moy L, Kahn CE. CLAIM. Radiol Artif Intell 2020;2:e200029.",
    "Liu X et al. CONSORT-AI. Nat Med 2020;26:1364-1374.",
    "Wilson EB. Probable inference. J Am Stat Assoc 1927;22:209-212.",
    "Simel DL, Samsa GP, Matchar DB. Likelihood ratios with confidence. J Clin Epidemiol "
    "1991;44:763-770.",
    "DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more correlated "
    "ROC curves. Biometrics 1988;44:837-845.",
    "Newcombe RG. Interval estimation for the difference between independent proportions. "
    "Stat Med 1998;17:873-890.",
    "Newcombe RG. Improved confidence intervals for the difference between binomial proportions "
    "based on paired data. Stat Med 1998;17:2635-2650.",
    "Katz D et al. Obtaining confidence intervals for the risk ratio in cohort studies. "
    "Biometrics 1978;34:469-474.",
    "McNemar Q. Psychometrika 1947;12:153-157.",
    "Liang KY, Zeger SL. Longitudinal data analysis using generalized linear models. "
    "Biometrika 1986;73:13-22.",
    "Obuchowski NA, Rockette HE. Hypothesis testing of diagnostic accuracy for multiple readers "
    "and multiple tests. Commun Stat Simul Comput 1995;24:285-308.",
    "Hillis SL. A comparison of denominator degrees of freedom methods for multiple observer ROC "
    "analysis. Stat Med 2007;26:596-619.",
    "Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas 1960;20:37-46.",
    "Fleiss JL. Measuring nominal scale agreement among many raters. Psychol Bull 1971;76:378-382.",
    "Gwet KL. Computing inter-rater reliability and its variance in the presence of high "
    "agreement. Br J Math Stat Psychol 2008;61:29-48.",
]

_DESIGN_TEXT = {
    "parallel": (
        "Arms were compared as independent groups: the difference of proportions with the "
        "Newcombe (1998) hybrid score interval and the risk ratio with the Katz (1978) log "
        "interval. Because reads cluster within sites and readers, the arm effect was also "
        "estimated as a log odds ratio by generalised estimating equations (Liang & Zeger 1986; "
        "binomial family, logit link, exchangeable working correlation, robust sandwich standard "
        "errors; statsmodels), once with clusters by site and once by reader."
    ),
    "paired": (
        "The same cases were read in each arm, so arms were compared as paired data: McNemar's "
        "(1947) test (chi-square without continuity correction, and the exact binomial form) with "
        "the paired difference of proportions and its Newcombe (1998) square-and-add interval; "
        "areas under the ROC curve were compared with DeLong's (1988) test for correlated AUCs. "
        "Generalised estimating equations (Liang & Zeger 1986; exchangeable correlation, robust "
        "standard errors) gave a cluster-adjusted log odds ratio by site and by reader."
    ),
    "mrmc": (
        "Every reader read every case in every arm (a fully crossed multi-reader multi-case "
        "study). Reader-averaged empirical AUCs were compared with the Obuchowski-Rockette (1995) "
        "method with jackknife covariance estimates and Hillis (2007) denominator degrees of "
        "freedom, treating readers and cases as random (generalising to both); the fixed-reader "
        "(random cases) and fixed-case (random readers) analyses are reported as well, with each "
        "reader's AUC per arm. The results reproduce the Iowa OR-DBM MRMC program."
    ),
}


def methods_paragraph(design: DesignChoice, endpoint: str, alpha: float) -> str:
    """A plain-English methods paragraph for this export, naming each method and its source."""
    level = round(100 * (1 - alpha))
    endpoint_text = (
        "the rate of missed findings, the share of reference-positive findings a reader called "
        "absent (FN / reference positives)"
        if endpoint == "missed_findings"
        else "diagnostic accuracy, the share of reads agreeing with the reference standard"
    )
    return " ".join(
        [
            f"Design: {design.design} ({design.reason}); arms {', '.join(design.arms)}.",
            "The reference standard for each study and finding was the adjudication read, else "
            "a consensus read, else the majority of independent clinical reads, else the primary "
            "read; reads made inside a trial arm never enter it, and ties of independent reads "
            "without adjudication were counted as indeterminate and excluded.",
            f"The primary endpoint was {endpoint_text}.",
            f"Proportions (sensitivity, specificity, predictive values, accuracy, prevalence) are "
            f"given with {level}% Wilson (1927) score intervals, likelihood ratios with the log "
            "method of Simel, Samsa & Matchar (1991), and the area under the ROC curve with "
            "DeLong et al.'s (1988) variance.",
            _DESIGN_TEXT[design.design],
            "Agreement of readers and of the AI with the reference standard, and between readers, "
            "is reported as Cohen's (1960) kappa, Fleiss' (1971) kappa and Gwet's (2008) AC1 with "
            "Gwet's linearised standard errors.",
            f"Analyses used RadQA {__version__} (DuckDB, statsmodels, SciPy).",
        ]
    )


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def provenance_rows(
    *, snapshot_id: str, snapshot_hash: str, published_at: object, parameters: dict[str, object]
) -> list[tuple[str, str]]:
    """(item, value) rows: versions, the snapshot, every parameter and the time of the export."""
    rows = [
        ("RadQA version", __version__),
        ("snapshot id", snapshot_id),
        ("snapshot content hash (sha256 of the snapshot file)", snapshot_hash),
        ("snapshot published at (UTC)", str(published_at)),
        ("exported at (UTC)", datetime.now(UTC).replace(microsecond=0).isoformat()),
        ("python", platform.python_version()),
    ]
    rows += [
        (name, _version(name))
        for name in ("duckdb", "pandas", "numpy", "scipy", "statsmodels", "xlsxwriter")
    ]
    rows += [(f"parameter: {k}", "" if v is None else str(v)) for k, v in parameters.items()]
    return rows
