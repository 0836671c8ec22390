"""Case reviews: the case a review is saved on, when the case list changes under the form."""

from __future__ import annotations

from pathlib import Path

from dashboard import _reviews

OTHER = "0123456789abcdef01234567"  # another reviewer's pseudonym


def reviews_of(data_dir: Path, reviewer: str) -> list[tuple[str, str, str, str]]:
    saved = _reviews.latest_reviews(data_dir)
    mine = saved[saved["reviewer"] == reviewer]
    return [tuple(r) for r in mine[["study_uid", "finding", "model_name", "category"]].values]


def test_a_case_that_left_the_list_is_refused_not_saved_on_another(app, demo_copy) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/review.py")
    table = at.dataframe[0].value
    at.selectbox(key="cr_case").select_index(2).run()
    target = table.iloc[2]
    # another reviewer saves the same case: it leaves the "not yet reviewed" list
    _reviews.add_review(
        demo_copy,
        study_uid=target["study_uid"],
        finding=target["finding"],
        model_name=target["model_name"],
        category="reference error",
        comment="",
        reviewer=OTHER,
    )
    at.radio(key="cr_category").set_value("AI error")
    at.text_area(key="cr_comment").set_value("meant the third case")
    at.button(key="cr_submit").click().run()
    assert not at.exception
    assert reviews_of(demo_copy, "local") == []  # not on the first case, nor on any other
    assert len(at.error) == 1
    assert at.error[0].value.startswith(
        f"The case list changed before you submitted: the case you had picked "
        f"({target['study_uid']} · {target['finding']} · {target['model_name']} · "
    )
    assert at.error[0].value.endswith("Nothing was saved; pick the case again.")
    assert at.text_area(key="cr_comment").value == "meant the third case"  # kept to retry


def test_a_case_still_listed_is_saved_even_when_the_rows_shift(app, demo_copy) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/review.py")
    table = at.dataframe[0].value
    at.selectbox(key="cr_case").select_index(2).run()
    target, first = table.iloc[2], table.iloc[0]
    # another reviewer saves the first case: every row below it moves up one place
    _reviews.add_review(
        demo_copy,
        study_uid=first["study_uid"],
        finding=first["finding"],
        model_name=first["model_name"],
        category="technical",
        comment="",
        reviewer=OTHER,
    )
    at.radio(key="cr_category").set_value("ambiguous")
    at.button(key="cr_submit").click().run()
    assert not at.exception
    assert reviews_of(demo_copy, "local") == [
        (target["study_uid"], target["finding"], target["model_name"], "ambiguous")
    ]
