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

_REF = {
    "stard": "Bossuyt PM et al. STARD 2015. BMJ 2015;351:h5527.",
    "claim": "Mongan J, Moy L, Kahn CE. CLAIM. Radiol Artif Intell 2020;2:e200029.",
    "consort": "Liu X et al. CONSORT-AI. Nat Med 2020;26:1364-1374.",
    "wilson": "Wilson EB. Probable inference. J Am Stat Assoc 1927;22:209-212.",
    "simel": "Simel DL, Samsa GP, Matchar DB. Likelihood ratios with confidence. J Clin Epidemiol "
    "1991;44:763-770.",
    "delong": "DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more "
    "correlated ROC curves. Biometrics 1988;44:837-845.",
    "newcombe_independent": "Newcombe RG. Interval estimation for the difference between "
    "independent proportions. Stat Med 1998;17:873-890.",
    "newcombe_paired": "Newcombe RG. Improved confidence intervals for the difference between "
    "binomial proportions based on paired data. Stat Med 1998;17:2635-2650.",
    "katz": "Katz D et al. Obtaining confidence intervals for the risk ratio in cohort studies. "
    "Biometrics 1978;34:469-474.",
    "mcnemar": "McNemar Q. Psychometrika 1947;12:153-157.",
    "liang_zeger": "Liang KY, Zeger SL. Longitudinal data analysis using generalized linear "
    "models. Biometrika 1986;73:13-22.",
    "obuchowski": "Obuchowski NA, Rockette HE. Hypothesis testing of diagnostic accuracy for "
    "multiple readers and multiple tests. Commun Stat Simul Comput 1995;24:285-308.",
    "hillis": "Hillis SL. A comparison of denominator degrees of freedom methods for multiple "
    "observer ROC analysis. Stat Med 2007;26:596-619.",
    "cohen": "Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas "
    "1960;20:37-46.",
    "fleiss": "Fleiss JL. Measuring nominal scale agreement among many raters. Psychol Bull "
    "1971;76:378-382.",
    "gwet": "Gwet KL. Computing inter-rater reliability and its variance in the presence of high "
    "agreement. Br J Math Stat Psychol 2008;61:29-48.",
}
_COMMON = ["stard", "claim", "consort", "wilson", "simel", "delong"]
_AGREEMENT = ["cohen", "fleiss", "gwet"]
#: The sources each design's sheets use, in the order the methods paragraph names them.
_DESIGN_REFERENCES = {
    "parallel": [*_COMMON, "newcombe_independent", "katz", "liang_zeger", *_AGREEMENT],
    "paired": [*_COMMON, "mcnemar", "newcombe_paired", "liang_zeger", *_AGREEMENT],
    "mrmc": [*_COMMON, "obuchowski", "hillis", *_AGREEMENT],
}


def references(design: str) -> list[str]:
    """The references of the methods the export of ``design`` uses, and only those."""
    return [_REF[key] for key in _DESIGN_REFERENCES[design]]


_DESIGN_TEXT = {
    "parallel": (
        "Reader measures are proportions of reads with Wilson intervals. Arms were compared as "
        "independent groups: the difference of proportions with the Newcombe (1998) hybrid "
        "score interval and the risk ratio with the Katz (1978) log interval. Because reads "
        "cluster within sites and readers, the arm effect was also estimated as a log odds "
        "ratio by generalised estimating equations (Liang & Zeger 1986; binomial family, logit "
        "link, exchangeable working correlation, robust sandwich standard errors; statsmodels), "
        "once with clusters by site and once by reader."
    ),
    "paired": (
        "Each case was read once in each arm (one pair per case), so arms were compared as "
        "paired data: McNemar's (1947) test (chi-square without continuity correction, and the "
        "exact binomial form) with the paired difference of proportions and its Newcombe (1998) "
        "square-and-add interval; areas under the ROC curve were compared with DeLong's (1988) "
        "test for correlated AUCs. Generalised estimating equations (Liang & Zeger 1986; "
        "exchangeable correlation, robust standard errors) gave a cluster-adjusted log odds "
        "ratio by site and by reader."
    ),
    "mrmc": (
        "Every reader read every case in every arm (a fully crossed multi-reader multi-case "
        "study), so reads are correlated within readers and within cases. Reader measures "
        "(sensitivity, specificity, predictive values, accuracy, the primary endpoint, and "
        "Cohen's kappa, Gwet's AC1 and percent agreement with the reference standard) are "
        "averages over readers, each with the Obuchowski-Rockette (1995) single-arm interval "
        "from jackknife covariances over cases and Hillis (2007) degrees of freedom, treating "
        "readers and cases as random (intervals clipped to the measure's range); the readers' "
        "likelihood ratios are given from the averaged sensitivity and specificity without an "
        "interval, and prevalence as a proportion of cases. The arms' difference in the "
        "endpoint was tested with the Obuchowski-Rockette F test (Hillis df). Reader-averaged "
        "empirical AUCs of the ratings were compared with the same method, treating readers "
        "and cases as random (generalising to both); the fixed-reader (random cases) and "
        "fixed-case (random readers) analyses are reported as well, with each reader's AUC per "
        "arm. The AUC results reproduce the Iowa OR-DBM MRMC program."
    ),
}


def methods_paragraph(design: DesignChoice, endpoint: str, alpha: float) -> str:
    """A plain-English methods paragraph for this export, naming each method and its source.

    It names only the methods whose numbers are on the sheets of ``design.design``.
    """
    level = round(100 * (1 - alpha))
    endpoint_text = (
        "the rate of missed findings, the share of reference-positive findings a reader called "
        "absent (FN / reference positives)"
        if endpoint == "missed_findings"
        else "diagnostic accuracy, the share of reads agreeing with the reference standard"
    )
    if design.design == "mrmc":
        endpoint_text += ", averaged over readers"
        proportions = (
            f"The AI's proportions (one result per case: sensitivity, specificity, predictive "
            f"values, accuracy) and prevalence are given with {level}% Wilson (1927) score "
            "intervals, its likelihood ratios with the log method of Simel, Samsa & Matchar "
            "(1991), and its area under the ROC curve with DeLong et al.'s (1988) variance."
        )
    else:
        proportions = (
            f"Proportions (sensitivity, specificity, predictive values, accuracy, prevalence) "
            f"are given with {level}% Wilson (1927) score intervals, likelihood ratios with the "
            "log method of Simel, Samsa & Matchar (1991), and the area under the ROC curve with "
            "DeLong et al.'s (1988) variance."
        )
    agreement = (
        "Agreement between readers is reported as Fleiss' (1971) kappa and Gwet's (2008) AC1 "
        "over cases and Cohen's (1960) kappa per reader pair, and agreement of the AI with the "
        "reference standard as Cohen's kappa and Gwet's AC1, with Gwet's linearised standard "
        "errors; percent agreement with the reference is the accuracy, with its interval."
    )
    if design.design != "mrmc":
        agreement = agreement.replace("of the AI with", "of the readers and of the AI with")
    return " ".join(
        [
            f"Design: {design.design} ({design.reason}); arms {', '.join(design.arms)}.",
            "The reference standard for each study and finding was the adjudication read, else "
            "a consensus read, else the majority of independent clinical reads, else the primary "
            "read; reads made inside a trial arm never enter it, and ties of independent reads "
            "without adjudication were counted as indeterminate and excluded.",
            f"The primary endpoint was {endpoint_text}.",
            proportions,
            _DESIGN_TEXT[design.design],
            agreement,
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
