"""The trial export workbook: one sheet per table, frozen header, 0.000 estimates, set widths.

Written with XlsxWriter through pandas; the file opens in Excel and LibreOffice without a
repair prompt (a test converts it headless with LibreOffice).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ESTIMATE_FORMAT = "0.000"
P_FORMAT = "0.0000"
SMALL_FORMAT = "0.00000000"  # variance components: values of order 1e-4
_P_COLUMNS = ("p_value", "p_value_exact")
_TEXT_COLUMNS = ("method", "note", "why", "value", "reason")


def sheet_name(name: str) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)
    return clean[:31]


def _width(frame: pd.DataFrame, column: str) -> float:
    values = frame[column].astype(object).map(str).map(len)  # small tables only
    longest = int(values.max()) if len(values) else 0
    cap = 80 if column in _TEXT_COLUMNS else 40
    return float(min(max(len(str(column)), longest, 6) + 2, cap))


def write_workbook(path: Path, tables: dict[str, pd.DataFrame]) -> Path:
    """Write ``tables`` (sheet name -> frame, in order) to ``path``."""
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        book = writer.book
        formats = {
            "estimate": book.add_format({"num_format": ESTIMATE_FORMAT}),
            "p": book.add_format({"num_format": P_FORMAT}),
            "small": book.add_format({"num_format": SMALL_FORMAT}),
            "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
        }
        for name, frame in tables.items():
            sheet = sheet_name(name)
            frame.to_excel(writer, sheet_name=sheet, index=False, na_rep="")
            ws = writer.sheets[sheet]
            ws.freeze_panes(1, 0)
            for i, column in enumerate(frame.columns):
                fmt = None
                if pd.api.types.is_float_dtype(frame[column]):
                    fmt = formats["p"] if column in _P_COLUMNS else formats["estimate"]
                    if name == "mrmc_variance":
                        fmt = formats["small"]
                elif column in ("text",):
                    fmt = formats["wrap"]
                ws.set_column(i, i, _width(frame, column), fmt)
    return path
