"""A forest plot as a statistician reads one (a reviewer: the pooled "diamond" was drawn as a
flat bar with no point, because every vertex sat on one category row, and no estimate or CI
was printed beside the rows)."""

from __future__ import annotations

import pandas as pd

from dashboard import _charts


def _forest():  # noqa: ANN202
    groups = pd.DataFrame(
        {
            "label": ["Busan", "Kobe", "Osaka"],
            "value": [0.778, 0.538, 0.667],
            "low": [0.548, 0.291, 0.503],
            "high": [0.910, 0.768, 0.798],
            "n": [18, 13, 36],
        }
    )
    return _charts.forest(
        groups, "sensitivity", pooled=(0.722, 0.636, 0.795), title="Sensitivity by site",
        colours={},
    )  # fmt: skip


def test_the_pooled_estimate_is_a_point_with_its_interval() -> None:
    fig = _forest()
    pooled = next(t for t in fig.data if t.name == "pooled (random effects)")
    assert list(pooled.x) == [72.2] and list(pooled.y) == ["pooled (random effects)"]
    assert pooled.marker.symbol == "diamond" and pooled.mode == "markers"
    assert round(pooled.x[0] - pooled.error_x.arrayminus[0], 1) == 63.6
    assert round(pooled.x[0] + pooled.error_x.array[0], 1) == 79.5


def test_each_row_prints_its_estimate_and_interval_at_the_right() -> None:
    fig = _forest()
    printed = {a.y: a.text for a in fig.layout.annotations}
    assert printed == {
        "Busan": "77.8% (54.8–91.0)",
        "Kobe": "53.8% (29.1–76.8)",
        "Osaka": "66.7% (50.3–79.8)",
        "pooled (random effects)": "72.2% (63.6–79.5)",
    }
    assert all(a.xref == "paper" and a.x == 1.0 for a in fig.layout.annotations)
    assert fig.layout.margin.r == _charts.FOREST_TEXT_MARGIN
    # the groups top-down in their order, the pooled row at the bottom
    assert list(fig.layout.yaxis.categoryarray) == [
        "pooled (random effects)", "Osaka", "Kobe", "Busan"
    ]  # fmt: skip
