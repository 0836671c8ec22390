"""What the demo data generator plants: sites, scanners, findings, models, readers and effects.

Everything the generator draws from is declared here as small frozen dataclasses, so that a test
or another dataset can build a different :class:`DemoConfig` (other sites, other effects in other
groups and months) without touching the generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

MODALITY_BODY_PARTS: dict[str, tuple[tuple[str, float], ...]] = {
    "CR": (("CHEST", 1.0),),
    "DX": (("CHEST", 1.0),),
    "CT": (("HEAD", 0.45), ("CHEST", 0.55)),
    "MR": (("HEAD", 0.65), ("SPINE", 0.35)),
}


@dataclass(frozen=True)
class Site:
    """A hospital. ``code`` prefixes stations and reader ids; ``weight`` is its share of volume."""

    name: str
    code: str
    uid_root: str
    weight: float
    radiologists: int


@dataclass(frozen=True)
class Scanner:
    """One device at a site. ``weight`` is its share of the site's volume (renormalised)."""

    site: str
    station: str
    manufacturer: str
    model: str
    modality: str
    software: str
    weight: float = 0.0


@dataclass(frozen=True)
class Finding:
    """A finding that the model of ``model`` scores on studies of ``modality`` x ``body_part``.

    Scores are Beta(pos_a, pos_b) for studies with the finding and Beta(neg_a, neg_b) without.
    """

    name: str
    modalities: tuple[str, ...]
    body_part: str
    prevalence: float
    model: str
    pos_a: float
    pos_b: float
    neg_a: float
    neg_b: float


@dataclass(frozen=True)
class Model:
    """An AI model: ``versions`` are (version, first month offset) pairs, offsets ascending."""

    name: str
    threshold: float
    versions: tuple[tuple[str, int], ...]


# --- planted effects ------------------------------------------------------------------------
# ``start`` is either a month offset from the first month (0 = first month) or "YYYY-MM".


@dataclass(frozen=True)
class PerformanceShift:
    """The model gets worse at a site (all findings, or one): sensitivity and specificity drop."""

    id: str
    site: str
    start: int | str
    sensitivity_drop: float
    specificity_drop: float
    finding: str | None = None
    description: str = ""
    kind: str = field(default="performance_shift", init=False)


@dataclass(frozen=True)
class SoftwareUpgrade:
    """One scanner model at a site gets new software; its negatives score higher from then on."""

    id: str
    site: str
    scanner_model: str
    new_software: str
    start: int | str
    specificity_drop: float
    description: str = ""
    kind: str = field(default="scanner_software_upgrade", init=False)


@dataclass(frozen=True)
class NewScanner:
    """A scanner model never seen before takes ``share`` of its modality's volume at a site."""

    id: str
    scanner: Scanner
    start: int | str
    share: float
    description: str = ""
    kind: str = field(default="new_scanner_model", init=False)


@dataclass(frozen=True)
class PrevalenceChange:
    """The prevalence of one finding at one site is multiplied by ``factor``."""

    id: str
    site: str
    finding: str
    start: int | str
    factor: float
    description: str = ""
    kind: str = field(default="prevalence_change", init=False)

    def applied(self, prevalence: Any) -> Any:
        """``prevalence`` (a number or an array) after the change, capped at 0.95."""
        return np.minimum(prevalence * self.factor, 0.95)


Effect = PerformanceShift | SoftwareUpgrade | NewScanner | PrevalenceChange


@dataclass(frozen=True)
class ReaderStudy:
    """A fully crossed MRMC reader study on CR studies of one finding (two arms)."""

    finding: str = "lung_nodule"
    modality: str = "CR"
    cases: int = 120
    positive_share: float = 1 / 3
    readers: tuple[str, ...] = tuple(f"RAD-RS-{i:03d}" for i in range(1, 7))
    # binormal latent rating: separation d per arm, case and residual noise sd
    separation_unaided: float = 1.45
    separation_aided: float = 1.70
    reader_sd: float = 0.15
    case_sd: float = 0.7
    noise_sd: float = 0.7
    session_offset: int = 8  # month offset of the unaided session; aided 5 weeks later


@dataclass(frozen=True)
class Reading:
    """How clinical reads are made."""

    sensitivity: tuple[float, float] = (0.90, 0.95)  # per radiologist, uniform in this range
    specificity: tuple[float, float] = (0.97, 0.99)
    ai_assisted_share: float = 0.30
    double_read_share: float = 0.10
    adjudicated_share: float = 0.50  # of study-findings where the two reads disagree
    delay_median_days: float = 10.0
    delay_sigma: float = 0.6  # log-normal
    delay_max_days: float = 45.0
    second_delay_median_days: float = 1.5
    adjudication_delay_median_days: float = 3.0


@dataclass(frozen=True)
class DemoConfig:
    """Everything the generator draws from; :func:`default_config` gives the RadQA demo."""

    sites: tuple[Site, ...]
    scanners: tuple[Scanner, ...]
    findings: tuple[Finding, ...]
    models: tuple[Model, ...]
    effects: tuple[Effect, ...]
    reading: Reading = Reading()
    reader_study: ReaderStudy = ReaderStudy()
    reference_months: int = 6
    repeat_patient_share: float = 0.30  # studies of "frequent" patients (follow-up, ICU films)


SITES = (
    Site("Osaka University Hospital", "OSK", "1.2.392.200036.9101", 0.27, 8),
    Site("Seoul National University Hospital", "SNU", "1.2.410.200062.7201", 0.27, 8),
    Site("Tokyo Medical Center", "TMC", "1.2.392.200036.9102", 0.22, 7),
    Site("Kobe Community Hospital", "KCH", "1.2.392.200036.9103", 0.12, 4),
    Site("Busan Community Hospital", "BCH", "1.2.410.200062.7202", 0.12, 4),
)

_GE, _SIE, _CAN, _PHI, _FUJ = (
    "GE HealthCare",
    "Siemens Healthineers",
    "Canon Medical Systems",
    "Philips",
    "Fujifilm",
)
_OSK, _SNU, _TMC, _KCH, _BCH = (s.name for s in SITES)

SCANNERS = (
    Scanner(_OSK, "OSK-DX1", _SIE, "Ysio Max", "DX", "VF10G", 0.22),
    Scanner(_OSK, "OSK-DX2", _FUJ, "FDR Smart X", "DX", "V2.4", 0.16),
    Scanner(_OSK, "OSK-CR1", _FUJ, "FCR Capsula XL II", "CR", "V5.1", 0.10),
    Scanner(_OSK, "OSK-DXP1", _GE, "Optima XR240amx", "DX", "DM_Platform_Release_2.1", 0.10),
    Scanner(_OSK, "OSK-CT1", _SIE, "SOMATOM Force", "CT", "syngo CT VB20A", 0.16),
    Scanner(_OSK, "OSK-CT2", _CAN, "Aquilion ONE", "CT", "V10.8", 0.10),
    Scanner(_OSK, "OSK-MR1", _SIE, "MAGNETOM Vida", "MR", "syngo MR XA31", 0.10),
    Scanner(_OSK, "OSK-MR2", _GE, "Discovery MR750", "MR", "DV26.0_R03", 0.06),
    Scanner(_SNU, "SNU-DX1", _PHI, "DigitalDiagnost C90", "DX", "DD 1.1.3", 0.24),
    Scanner(_SNU, "SNU-DX2", _SIE, "Ysio Max", "DX", "VF10G", 0.16),
    Scanner(_SNU, "SNU-DXP1", _GE, "Optima XR240amx", "DX", "DM_Platform_Release_2.1", 0.08),
    Scanner(_SNU, "SNU-CT1", _GE, "Revolution CT", "CT", "revo_ct_21a.44", 0.15),
    Scanner(_SNU, "SNU-CT2", _SIE, "SOMATOM Force", "CT", "syngo CT VB20A", 0.10),
    Scanner(_SNU, "SNU-MR1", _PHI, "Ingenia", "MR", "5.7.1", 0.10),
    Scanner(_SNU, "SNU-MR2", _GE, "SIGNA Premier", "MR", "MR29.1_R02", 0.07),
    Scanner(_TMC, "TMC-DX1", _CAN, "RADREX-i", "DX", "V6.20", 0.22),
    Scanner(_TMC, "TMC-DX2", _FUJ, "FDR Smart X", "DX", "V2.4", 0.18),
    Scanner(_TMC, "TMC-CR1", _FUJ, "FCR Capsula XL II", "CR", "V5.1", 0.10),
    Scanner(_TMC, "TMC-CT1", _CAN, "Aquilion ONE", "CT", "V10.8", 0.18),
    Scanner(_TMC, "TMC-CT2", _CAN, "Aquilion Prime SP", "CT", "V8.9", 0.08),
    Scanner(_TMC, "TMC-MR1", _CAN, "Vantage Orian", "MR", "MRT-2000 V6.0", 0.14),
    Scanner(_TMC, "TMC-MR2", _PHI, "Ingenia", "MR", "5.7.1", 0.10),
    Scanner(_KCH, "KCH-DX1", _FUJ, "FDR Smart X", "DX", "V2.4", 0.45),
    Scanner(_KCH, "KCH-CR1", _FUJ, "FCR Capsula XL II", "CR", "V5.1", 0.15),
    Scanner(_KCH, "KCH-CT1", _CAN, "Aquilion Prime SP", "CT", "V8.9", 0.25),
    Scanner(_KCH, "KCH-MR1", _CAN, "Vantage Orian", "MR", "MRT-2000 V6.0", 0.15),
    Scanner(_BCH, "BCH-DX1", _PHI, "DigitalDiagnost C90", "DX", "DD 1.1.3", 0.60),
    Scanner(_BCH, "BCH-CT1", _PHI, "Incisive CT", "CT", "4.0.1", 0.25),
    Scanner(_BCH, "BCH-MR1", _GE, "SIGNA Explorer", "MR", "SV25.3_R02", 0.15),
)

FINDINGS = (
    Finding("pneumothorax", ("CR", "DX"), "CHEST", 0.025, "ChestXR-Triage", 3.2, 1.6, 1.3, 4.4),
    Finding("pleural_effusion", ("CR", "DX"), "CHEST", 0.08, "ChestXR-Triage", 3.0, 1.5, 1.5, 4.5),
    Finding("lung_nodule", ("CR", "DX"), "CHEST", 0.05, "ChestXR-Triage", 2.5, 1.5, 1.2, 4.0),
    Finding("consolidation", ("CR", "DX"), "CHEST", 0.07, "ChestXR-Triage", 2.8, 1.6, 1.4, 4.5),
    Finding("intracranial_haemorrhage", ("CT",), "HEAD", 0.06, "CT-ICH", 3.0, 1.5, 1.2, 4.6),
    Finding("lung_nodule", ("CT",), "CHEST", 0.15, "CT-Lung", 3.0, 1.5, 1.5, 4.5),
    Finding("pulmonary_embolism", ("CT",), "CHEST", 0.08, "CT-PE", 3.2, 1.6, 1.3, 4.4),
    Finding("acute_infarct", ("MR",), "HEAD", 0.10, "MR-Brain", 3.0, 1.5, 1.5, 4.5),
    Finding("brain_mass", ("MR",), "HEAD", 0.05, "MR-Brain", 2.8, 1.6, 1.4, 4.5),
    Finding("spinal_cord_compression", ("MR",), "SPINE", 0.04, "MR-Spine", 2.6, 1.4, 1.1, 3.6),
)

MODELS = (
    Model("ChestXR-Triage", 0.50, (("2.1", 0), ("2.2", 8))),
    Model("CT-ICH", 0.40, (("1.4", 0),)),
    Model("CT-Lung", 0.50, (("3.0", 0), ("3.1", 17))),
    Model("CT-PE", 0.45, (("1.2", 0),)),
    Model("MR-Brain", 0.50, (("1.0", 0),)),
    Model("MR-Spine", 0.50, (("0.9", 0),)),
)

EFFECTS: tuple[Effect, ...] = (
    PerformanceShift(
        "kobe-protocol-shift",
        _KCH,
        start=10,
        sensitivity_drop=0.18,
        specificity_drop=0.05,
        description=(
            "Kobe Community Hospital switched to a new low-dose acquisition protocol on all its "
            "scanners; every model there loses about 0.18 sensitivity and 0.05 specificity."
        ),
    ),
    SoftwareUpgrade(
        "osaka-ysio-software",
        _OSK,
        scanner_model="Ysio Max",
        new_software="VF12B",
        start=16,
        specificity_drop=0.10,
        description=(
            "The Siemens Ysio Max at Osaka University Hospital got software VF12B with new image "
            "post-processing; ChestXR-Triage scores rise on normal films, so the positive rate "
            "goes up and specificity drops by about 0.10."
        ),
    ),
    NewScanner(
        "busan-new-samsung",
        Scanner(_BCH, "BCH-DX2", "Samsung", "GC85A", "DX", "S-Vue 3.02"),
        start=14,
        share=0.40,
        description=(
            "Busan Community Hospital installed a Samsung GC85A radiography room, a scanner model "
            "not seen before, which takes about 40% of the site's radiography volume."
        ),
    ),
    PrevalenceChange(
        "tokyo-effusion-referrals",
        _TMC,
        finding="pleural_effusion",
        start=19,
        factor=2.0,
        description=(
            "Tokyo Medical Center opened a heart-failure clinic whose patients get chest films; "
            "the prevalence of pleural effusion there doubles."
        ),
    ),
)


def default_config() -> DemoConfig:
    """The RadQA demo: 5 sites in Japan and South Korea, 6 models, 4 planted effects."""
    return DemoConfig(
        sites=SITES, scanners=SCANNERS, findings=FINDINGS, models=MODELS, effects=EFFECTS
    )
