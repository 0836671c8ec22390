"""Turn drawn integer codes into the input contract's columns and write them deterministically.

Text columns are dictionary arrays (a code into a short list of names) or are assembled by Arrow
compute kernels (study UIDs, patient ids, ISO 8601 times), so no Python code runs per row. Writer
options are fixed and nothing depends on the current time, so equal inputs give equal bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from radqa._demo_gen import READ_ROLES, SEXES, Month, Patients
from radqa._demo_plan import EXAM_TYPES, Plan

PREDICTION_COLUMNS = (
    "study_uid", "patient_id", "site", "study_datetime", "modality", "finding", "model_name",
    "model_version", "score", "predicted", "threshold", "body_part", "scanner_manufacturer",
    "scanner_model", "scanner_software", "station", "patient_age", "patient_sex",
)  # fmt: skip
READ_COLUMNS = (
    "study_uid", "finding", "reader_id", "label", "read_datetime", "read_role", "rating",
    "ai_assisted", "arm",
)  # fmt: skip


def _dict(codes: np.ndarray, names: list[str]) -> pa.DictionaryArray:
    """Codes into ``names`` as a dictionary array whose dictionary has no repeated value.

    (Arrow's Parquet writer gives varying bytes for a dictionary with repeated values.)
    """
    unique, inverse = np.unique(np.array(names, dtype=object), return_inverse=True)
    return pa.DictionaryArray.from_arrays(
        pa.array(inverse[codes], pa.int32()), pa.array(unique.tolist(), pa.string())
    )


def iso_times(seconds: np.ndarray) -> pa.Array:
    """ISO 8601 local date-times without offset, e.g. 2026-03-04T08:15:00."""
    return pc.strftime(pa.array(seconds, pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")


def study_uids(plan: Plan, site: np.ndarray, month: np.ndarray, serial: np.ndarray) -> pa.Array:
    """DICOM-style UIDs: <site root>.<yyyymm>.<serial + 1>."""
    roots = [s.uid_root for s in plan.config.sites]
    yyyymm = [m.replace("-", "") for m in plan.months]
    return pc.binary_join_element_wise(
        _dict(site, roots).dictionary_decode(),
        _dict(month, yyyymm).dictionary_decode(),
        pc.cast(pa.array(serial + 1, pa.int64()), pa.string()),
        ".",
    )


def predictions_table(plan: Plan, patients: Patients, m: int, mo: Month) -> pa.Table:
    """One prediction row per study x finding, in the contract's column order."""
    cfg = plan.config
    st = mo.row_study
    site, scanner, finding = mo.site[st], mo.scanner[st], mo.row_finding
    model = plan.model_index[finding]
    threshold = np.array([x.threshold for x in cfg.models])[model]
    code = ((site + 1) * 10 + mo.exam[st]) * 10**patients.width + mo.patient[st]
    names = {
        "site": _dict(site, [s.name for s in cfg.sites]),
        "modality": _dict(mo.exam[st], [e[0] for e in EXAM_TYPES]),
        "finding": _dict(finding, [f.name for f in cfg.findings]),
        "model_name": _dict(model, [x.name for x in cfg.models]),
        "model_version": _dict(model, plan.model_version[m]),
        "body_part": _dict(mo.exam[st], [e[1] for e in EXAM_TYPES]),
        "scanner_manufacturer": _dict(scanner, [s.manufacturer for s in plan.scanners]),
        "scanner_model": _dict(scanner, [s.model for s in plan.scanners]),
        "scanner_software": _dict(scanner, plan.scanner_software[m]),
        "station": _dict(scanner, [s.station for s in plan.scanners]),
        "patient_sex": _dict(mo.sex[st], list(SEXES)),
    }
    columns = {
        "study_uid": study_uids(plan, site, np.full(st.size, m), mo.serial[st]),
        "patient_id": pc.binary_join_element_wise("P", pc.cast(pa.array(code), pa.string()), ""),
        "study_datetime": iso_times(mo.time[st]),
        "score": pa.array(mo.row_score, pa.float64()),
        "predicted": pa.array((mo.row_score >= threshold).astype(np.int8)),
        "threshold": pa.array(threshold, pa.float64()),
        "patient_age": pa.array(mo.age[st].astype(np.int16)),
        **names,
    }
    return pa.table({name: columns[name] for name in PREDICTION_COLUMNS})


def write_parquet(table: pa.Table, path: Path) -> None:
    """Parquet with fixed options (zstd level 3, format 2.6, no Arrow schema blob)."""
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        version="2.6",
        data_page_version="1.0",
        row_group_size=1 << 20,
        store_schema=False,
    )


def reads_table(plan: Plan, reads: dict[str, np.ndarray]) -> pa.Table:
    """Clinical read rows (sorted by read time by the caller) in the contract's column order."""
    n = reads["time"].size
    return pa.table(
        {
            "study_uid": study_uids(plan, reads["site"], reads["month"], reads["serial"]),
            "finding": _dict(reads["finding"], [f.name for f in plan.config.findings]),
            "reader_id": _dict(reads["reader"], plan.radiologist_ids),
            "label": pa.array(reads["label"].astype(np.int8)),
            "read_datetime": iso_times(reads["time"]),
            "read_role": _dict(reads["role"], list(READ_ROLES)),
            "rating": pa.nulls(n, pa.int8()),
            "ai_assisted": pa.array(reads["ai"], pa.bool_()),
            "arm": pa.nulls(n, pa.string()),
        }
    )


def write_csv(table: pa.Table, path: Path) -> None:
    """CSV with a plain header; empty cells for missing values; true/false for booleans."""
    plain = pa.table(
        {
            name: col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )
    for style in ("none", "needed"):  # unquoted unless a value holds a comma, quote or newline
        try:
            with path.open("wb") as out:
                out.write((",".join(plain.column_names) + "\n").encode())
                options = pacsv.WriteOptions(include_header=False, quoting_style=style)
                pacsv.write_csv(plain, out, options)
            return
        except pa.ArrowInvalid:
            continue
