"""Overview › Vendor claims: "none configured" is told apart from "none for the models under the
current filters" (the reviewer set Modality = CT and was told to add claims to radqa.toml, which
had claims for ChestXR-Triage, an X-ray model the filter leaves out)."""

from __future__ import annotations

import metrics
from metrics import Filters


def claims_caption(at) -> str:  # noqa: ANN001
    assert not at.exception
    return next(c.value for c in at.caption if "vendor claim" in c.value.lower())


def test_claims_for_a_model_the_filters_leave_out_are_named(app, demo_dir, con) -> None:  # noqa: ANN001
    at = app(demo_dir, query={"modality": "CT"})
    ct_models = sorted(
        set(
            metrics.summarize(con, by=("model_name",), filters=Filters(modality=("CT",)))[
                "model_name"
            ]
        )
    )
    assert "ChestXR-Triage" not in ct_models and len(ct_models) >= 2
    assert claims_caption(at) == (
        f"No vendor claim for the models under the current filters (modality: CT): "
        f"{', '.join(ct_models)}. Claims are configured in radqa.toml for ChestXR-Triage, which "
        "has no prediction under these filters; widen or clear the filters to check them."
    )
    assert not at.dataframe  # no claims table


def test_no_claims_at_all_says_none_configured(app, demo_copy) -> None:  # noqa: ANN001
    (demo_copy / "radqa.toml").write_text("")
    at = app(demo_copy, query={"modality": "CT"})
    assert claims_caption(at) == (
        "No vendor claims configured. Add a model's published figures to radqa.toml in the data "
        'dir, e.g. [claims."ChestXR-Triage"] accuracy = 0.974, and they are checked here, per '
        "finding, against the local data."
    )


def test_claims_for_a_model_not_in_the_snapshot_point_at_its_name(app, demo_copy, con) -> None:  # noqa: ANN001
    (demo_copy / "radqa.toml").write_text('[claims."ChestXR-Triag"]\naccuracy = 0.974\n')
    at = app(demo_copy)
    models = sorted(set(metrics.summarize(con, by=("model_name",))["model_name"]))
    assert claims_caption(at) == (
        f"No vendor claim for the models in this snapshot ({', '.join(models)}). Claims are "
        "configured in radqa.toml for ChestXR-Triag, which has no prediction here: check the "
        'model name in the [claims."..."] table.'
    )
