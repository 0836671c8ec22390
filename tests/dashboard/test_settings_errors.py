"""A broken radqa.toml is shown on the Overview as the one line the command line gives, not as
a traceback, and the rest of the page still shows (a QA tester's report, qa9/config fault 6)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

from .conftest import kpi_tiles


def test_a_broken_radqa_toml_is_one_line_on_the_overview(
    app: Callable[..., AppTest], demo_copy: Path
) -> None:
    path = demo_copy / "radqa.toml"
    path.write_text('[claims]\n"ChestXR-Triage" = 0.9\n')
    at = app(demo_copy)
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"{path}: claims.ChestXR-Triage = 0.9; expected a section [claims.ChestXR-Triage] of "
        "metric = figure, such as accuracy = 0.974"
    ]
    assert "Vendor claims are checked here once radqa.toml is fixed (see above)." in [
        c.value for c in at.caption
    ]
    assert len(kpi_tiles(at)) > 0  # the tiles still show
