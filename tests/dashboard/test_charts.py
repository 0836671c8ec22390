"""The Drift page's figures, built from small monitor-shaped tables: each trace shows the values
it is given, in percent, with the intervals the metrics layer computed."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import _charts


def test_score_histogram_overlays_reference_and_month_shares() -> None:
    part = pd.DataFrame(
        {
            "bin": [0, 1],
            "bin_low": [0.0, 0.5],
            "bin_high": [0.5, 1.0],
            "reference_share": [0.75, 0.25],
            "month_share": [0.4, 0.6],
            "n_reference": [400, 400],
            "n_month": [50, 50],
        }
    )
    fig = _charts.score_histogram(part, "2026-10")
    ref, month = fig.data
    assert list(ref.x) == [0.25, 0.75] and list(ref.y) == [75.0, 25.0]
    assert list(month.y) == [40.0, 60.0]
    assert (ref.name, month.name) == ("reference (n = 400)", "2026-10 (n = 50)")
    assert fig.layout.barmode == "overlay"


def test_completeness_lines_one_per_finding_in_month_order() -> None:
    table = pd.DataFrame(
        {
            "finding": ["ptx", "ptx", "nodule"],
            "period": ["2026-10", "2026-09", "2026-10"],
            "completeness": [0.5, 0.9, 1.0],
            "labelled": [5, 9, 4],
            "n": [10, 10, 4],
        }
    )
    fig = _charts.completeness_lines(table, ["nodule", "ptx", "effusion"])
    assert [t.name for t in fig.data] == ["nodule", "ptx"]
    ptx = fig.data[1]
    assert list(ptx.x) == ["2026-09", "2026-10"] and list(ptx.y) == [90.0, 50.0]
    assert "n = 24" in fig.layout.title.text


def test_estimated_vs_realised_error_bars_are_the_interval() -> None:
    # metrics.estimated_vs_realised rows: each with its realised value's own (Wilson) interval
    part = pd.DataFrame(
        {
            "site": ["B", "A", "A"],
            "finding": ["ptx", "ptx", "ptx"],
            "model_name": ["XR", "XR", "CT"],
            "model_version": ["2", "2", "1.1"],
            "estimate": [0.8, 0.6, 0.5],
            "low": [0.7, 0.4, 0.3],
            "high": [0.85, 0.7, 0.6],
            "realised": [0.75, 0.65, 0.55],
            "realised_low": [0.6, 0.5, 0.45],
            "realised_high": [0.9, 0.7, 0.6],
            "n_estimated": [40.0, 60.0, 20.0],
        }
    )
    fig = _charts.estimated_vs_realised(part, "sensitivity", 150)
    est, real = fig.data
    # one row per site, finding and AI model version, sorted by label
    assert list(est.y) == ["A · ptx · CT 1.1", "A · ptx · XR 2", "B · ptx · XR 2"]
    assert list(est.x) == pytest.approx([50.0, 60.0, 80.0])
    assert list(est.error_x.array) == pytest.approx([10.0, 10.0, 5.0])
    assert list(est.error_x.arrayminus) == pytest.approx([20.0, 20.0, 10.0])
    assert list(real.x) == pytest.approx([55.0, 65.0, 75.0])
    # the realised value's Wilson interval (a tester's fault: the point was drawn without it)
    assert list(real.error_x.array) == pytest.approx([5.0, 5.0, 15.0])
    assert list(real.error_x.arrayminus) == pytest.approx([10.0, 15.0, 15.0])
    assert real.error_x.symmetric is False
    # side by side in each row, so one interval does not hide the other
    assert fig.layout.scattermode == "group" and {est.orientation, real.orientation} == {"h"}
    # the plotted rows' pending predictions, of every pending one under the filters
    assert fig.layout.title.text == (
        "Sensitivity: estimate for 120 of 150 pending predictions vs realised (bars: 95% CI)"
    )
    whole = _charts.estimated_vs_realised(part, "specificity", 120).layout.title.text
    assert whole.startswith("Specificity: estimate for 120 pending predictions vs")


def _grid(columns: int, rows: tuple[str, ...] = ("A", "B")) -> pd.DataFrame:
    """A site x scanner grid of ``columns`` scanners; the first cell of each site without an
    estimate."""
    out = []
    for r in rows:
        for j in range(columns):
            v = float("nan") if j == 0 else 0.5 + j / 100
            out.append(
                {
                    "site": r,
                    "scanner_model": f"Scanner {j:02d}",
                    "sensitivity": v,
                    "sensitivity_low": v - 0.1,
                    "sensitivity_high": v + 0.05,
                    "n_labelled": 200,
                    "pending": 3,
                    "n_basis": 1000 + j,
                }  # fmt: skip
            )
    return pd.DataFrame(out)


def test_heatmap_cell_text_is_12px_and_short_enough_for_its_cell() -> None:
    """A tester's fault: plotly shrank the cell text to about 6 px at 1400 px wide. The size is
    set, and a cell's text is short: its estimate, CI and n (the n's kind is in the title)."""
    fig = _charts.heatmap(
        _grid(3), "sensitivity", rows="site", cols="scanner_model", basis="n_basis"
    )
    grey, main = fig.data
    assert [t.textfont.size for t in fig.data] == [12, 12]
    assert main.text.tolist()[0] == ["", "51.0%<br>41.0–56.0<br>n = 1,001", "52.0%<br>42.0–57.0<br>n = 1,002"]  # fmt: skip
    assert grey.text.tolist()[0] == ["insufficient<br>n = 1,000", "", ""]
    assert "cells: estimate, 95% CI, n of reference-positive cases" in fig.layout.title.text
    # the hover keeps every figure, the n of reference-positive cases with its kind
    assert main.customdata[0][1] == (
        "Sensitivity 51.0%<br>95% CI 41.0% – 56.0%<br>n = 1,001 reference-positive"
        "<br>labelled n = 200, pending 3"
    )
    assert fig.layout.xaxis.tickangle is None


def test_heatmap_with_many_columns_shows_rounded_estimates_and_slants_the_labels() -> None:
    fig = _charts.heatmap(
        _grid(12), "sensitivity", rows="site", cols="scanner_model", basis="n_basis"
    )
    grey, main = fig.data
    assert [t.textfont.size for t in fig.data] == [12, 12]
    assert main.text.tolist()[0][:3] == ["", "51%", "52%"] and grey.text.tolist()[0][0] == "–"
    assert "cells: rounded estimate, 95% CI and n on hover" in fig.layout.title.text
    assert fig.layout.xaxis.tickangle == -30
    assert fig.layout.height == _charts.heatmap(_grid(3), "sensitivity", rows="site",
                                                cols="scanner_model").layout.height + 60  # fmt: skip
    # AUC to two decimals
    auc = _grid(12).rename(columns=lambda c: c.replace("sensitivity", "auc"))
    _, main = _charts.heatmap(auc, "auc", rows="site", cols="scanner_model").data
    assert main.text.tolist()[0][1] == "0.51"
    # beyond 16 columns the cells would overlap: no text, all on hover
    fig = _charts.heatmap(_grid(17), "sensitivity", rows="site", cols="scanner_model")
    assert {str(x) for t in fig.data for x in t.text.ravel()} == {""}
    assert "cells: estimate, 95% CI and n on hover" in fig.layout.title.text
    assert fig.data[1].customdata[0][1].startswith("Sensitivity 51.0%<br>95% CI 41.0% – 56.0%")


def test_the_heatmap_caption_says_what_a_cell_shows_at_each_width() -> None:
    caption = _charts.heatmap_cells_caption
    assert caption("Sensitivity", _charts.FULL_COLUMNS, "scanner models") == (
        "Each cell: Sensitivity, its 95% CI and the number of cases it rests on."
    )
    assert caption("Sensitivity", _charts.FULL_COLUMNS + 1, "scanner models") == (
        "Each cell: Sensitivity (8 scanner models: its 95% CI and number of cases are in the "
        "cell's hover text)."
    )
    assert caption("AUC", _charts.VALUE_COLUMNS + 1, "scanner models").startswith(
        "17 scanner models: too many to write in the cells; each cell's AUC, 95% CI"
    )
    # the figure agrees: CI in the cell up to FULL_COLUMNS, estimate only up to VALUE_COLUMNS
    for n_cols, shown in ((7, "51.0%<br>41.0–56.0<br>n = 1,001"), (8, "51%"), (17, "")):
        fig = _charts.heatmap(
            _grid(n_cols), "sensitivity", rows="site", cols="scanner_model", basis="n_basis"
        )
        assert fig.data[1].text.tolist()[0][1] == shown, n_cols


def test_a_long_title_wraps_at_its_clauses_to_fit_a_1280_px_window() -> None:
    """A reviewer's screenshot at 1280 x 800: the Sites heatmap's title (126 characters) ran
    past the chart's right edge, cut at "grey: insufficien"."""
    fig = _charts.heatmap(
        _grid(3), "sensitivity", rows="site", cols="scanner_model", basis="n_basis"
    )
    assert fig.layout.title.text.split("<br>") == [
        "Sensitivity by site × scanner model (labelled n = 1,200;",
        "cells: estimate, 95% CI, n of reference-positive cases; grey: insufficient data)",
    ]
    assert fig.layout.margin.t == _charts.TOP_MARGIN + _charts.TITLE_LINE == 80
    # a short title stays on one line, in the margin it had
    short = _charts.bars(
        pd.DataFrame({"site": ["A"], "share": [50.0]}),
        "site", "share", title="Predictions with a reference read (n = 3)", y_title="%",
    )  # fmt: skip
    assert short.layout.title.text == "Predictions with a reference read (n = 3)"
    assert short.layout.margin.t == 60
    # a clause longer than a line breaks at a space; no line over TITLE_CHARS where it can
    words = "word " * 50
    lines = _charts.title_lines(f"{words}(n = 5; x: y)")
    assert all(len(line) <= _charts.TITLE_CHARS for line in lines)
    assert " ".join(lines).split() == f"{words}(n = 5; x: y)".split()
