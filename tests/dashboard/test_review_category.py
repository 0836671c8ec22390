"""Case review: no category is chosen until the reviewer chooses one, a save without one is
refused, and the list says how many discordant cases there are in all.

The reviewer found the Category radio starting on "AI error", so "Mark reviewed" alone recorded
an AI error, and "200 discordant case(s)" without the total.
"""

from __future__ import annotations

import pytest

import metrics
from dashboard import _reviews
from metrics import Filters
from radqa.errors import InputError

REFUSED = (
    "Choose a category (AI error, reference error, ambiguous, technical) before marking the "
    "case reviewed. Nothing was saved."
)


def test_mark_reviewed_without_a_category_saves_nothing(app, demo_copy) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/review.py")
    assert not at.exception
    assert at.radio(key="cr_category").value is None  # nothing chosen at first
    assert at.radio(key="cr_category").index is None
    at.text_area(key="cr_comment").set_value("looked at it")
    at.button(key="cr_submit").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [REFUSED]
    assert _reviews.latest_reviews(demo_copy).empty
    assert at.text_area(key="cr_comment").value == "looked at it"  # kept for the retry
    # once chosen, the same click saves that category, and the next case starts without one
    case = at.selectbox(key="cr_case").value
    at.radio(key="cr_category").set_value("reference error")
    at.button(key="cr_submit").click().run()
    assert not at.exception and not at.error
    saved = _reviews.latest_reviews(demo_copy)
    assert saved[["study_uid", "category", "comment"]].values.tolist() == [
        [case[0], "reference error", "looked at it"]
    ]
    assert at.radio(key="cr_category").value is None


def test_add_review_refuses_no_category() -> None:
    for nothing in (None, ""):
        with pytest.raises(InputError) as err:
            _reviews.add_review(
                "/nonexistent",  # type: ignore[arg-type]
                study_uid="1.2",
                finding="ptx",
                model_name="M",
                model_version="1",
                category=nothing,
                comment="",
                reviewer="local",
            )
        assert str(err.value) == (
            "no review category was chosen; expected one of: AI error, reference error, "
            "ambiguous, technical"
        )


def test_the_caption_says_how_many_discordant_cases_there_are_in_all(
    app,
    demo_dir,
    con,  # noqa: ANN001
) -> None:
    at = app(demo_dir, "views/review.py")
    counts = metrics.summarize(con, by=())
    everything = metrics.discordant_cases(con, kind="both", limit=10**9)
    n_all = int(counts["fn"].iloc[0] + counts["fp"].iloc[0])
    assert n_all == len(everything) > 200
    caption = next(c.value for c in at.caption if "discordant case(s)" in c.value)
    assert caption.startswith(
        f"Showing 200 of {n_all:,} discordant case(s) under these filters, the most confident "
        "AI errors first (raise 'At most' to list more); 0 of those shown reviewed"
    )
    # false negatives only, at one site: the total follows the choice and the filter
    site = str(everything["site"].iloc[0])
    at = app(demo_dir, "views/review.py", query={"site": site})
    at.selectbox(key="cr_kind").set_value("fn").run()
    at.number_input(key="cr_limit").set_value(10).run()
    fn = metrics.discordant_cases(con, kind="fn", limit=10**9, filters=Filters(site=(site,)))
    assert len(fn) > 10
    caption = next(c.value for c in at.caption if "discordant case(s)" in c.value)
    assert caption.startswith(f"Showing 10 of {len(fn):,} discordant case(s) under these filters")
