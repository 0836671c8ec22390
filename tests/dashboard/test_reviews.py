"""Case reviews: the case a review is saved on when the case list changes under the form; the
review key (with the model version), replacing, withdrawing, comments."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from dashboard import _reviews
from radqa.errors import InputError

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
        model_version=target["model_version"],
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
    # submitting again without picking a case saved the verdict on the first case (a QA
    # re-test): the box shows the case Streamlit put there, not one the user picked
    at.button(key="cr_submit").click().run()
    assert not at.exception
    assert reviews_of(demo_copy, "local") == []
    assert at.error[0].value == (
        "Pick the case in the Case box first: after the case list changed, it shows the first "
        "case, not the one you had picked. Nothing was saved."
    )
    # once the user picks a case, the submit saves on it
    at.selectbox(key="cr_case").select_index(1).run()
    picked = at.selectbox(key="cr_case").value
    at.button(key="cr_submit").click().run()
    assert not at.exception and not at.error
    assert [(r[0], r[3]) for r in reviews_of(demo_copy, "local")] == [(picked[0], "AI error")]


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
        model_version=first["model_version"],
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


def key_of(row: pd.Series) -> tuple[str, str, str, str]:
    return (row["study_uid"], row["finding"], row["model_name"], row["model_version"])


def review(data_dir: Path, case: tuple[str, str, str, str], category: str, **kw: object) -> None:
    study_uid, finding, model_name, model_version = case
    _reviews.add_review(
        data_dir,
        study_uid=study_uid,
        finding=finding,
        model_name=model_name,
        model_version=model_version,
        category=category,
        comment=str(kw.pop("comment", "")),
        reviewer=str(kw.pop("reviewer", OTHER)),
        **kw,  # type: ignore[arg-type]
    )


def test_a_review_covers_its_model_version_only(tmp_path: Path) -> None:
    case = ("1.2.3", "pneumothorax", "ChestXR-Triage", "2.1")
    review(tmp_path, case, "AI error")
    latest = _reviews.latest_reviews(tmp_path)
    assert [tuple(r) for r in latest[list(_reviews.CASE_KEY)].values] == [case]
    assert _reviews.latest_for(tmp_path, (*case[:3], "2.3")) is None


def test_a_review_of_another_version_leaves_the_case_unreviewed(app, demo_copy) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/review.py")
    first = at.dataframe[0].value.iloc[0]
    review(demo_copy, (*key_of(first)[:3], "0.0-other"), "AI error")
    at.run()
    assert key_of(at.dataframe[0].value.iloc[0]) == key_of(first)  # still not yet reviewed


def test_a_second_reviewer_is_told_and_the_history_kept(app, demo_copy) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/review.py")
    case = key_of(at.dataframe[0].value.iloc[0])
    review(demo_copy, case, "AI error", comment="missed on the lateral view")
    at.selectbox(key="cr_show").set_value("all").run()
    at.selectbox(key="cr_case").set_value(case).run()
    today = _reviews.latest_for(demo_copy, case)["reviewed_at"][:10]
    assert [w.value for w in at.warning] == [
        f"Already reviewed by {OTHER[:8]} as 'AI error' on {today}; saving replaces it "
        "(the history keeps it)."
    ]
    shown = at.dataframe[0].value
    row = shown[[key_of(r) == case for _, r in shown.iterrows()]].iloc[0]
    assert (row["category"], row["comment"], row["reviewer"]) == (
        "AI error",
        "missed on the lateral view",
        OTHER[:8],
    )
    at.radio(key="cr_category").set_value("ambiguous")
    at.button(key="cr_submit").click().run()
    assert not at.exception
    assert at.success[0].value.endswith(
        f"marked 'ambiguous' by you, replacing the review by {OTHER[:8]} as 'AI error' on {today}."
    )
    past = _reviews.history(demo_copy, case)
    assert past[["action", "category", "reviewer"]].values.tolist() == [
        ["review", "AI error", OTHER],
        ["review", "ambiguous", "local"],
    ]
    latest = _reviews.latest_reviews(demo_copy)
    assert latest[["category", "reviewer"]].values.tolist() == [["ambiguous", "local"]]


def test_a_review_made_while_the_form_was_open_is_not_replaced_unseen(app, demo_copy) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/review.py")
    at.selectbox(key="cr_show").set_value("all").run()
    case = key_of(at.dataframe[0].value.iloc[0])
    at.selectbox(key="cr_case").set_value(case).run()
    review(demo_copy, case, "technical")  # another reviewer, after the form was drawn
    at.radio(key="cr_category").set_value("AI error")
    at.button(key="cr_submit").click().run()
    assert not at.exception
    assert at.error[0].value.startswith(
        f"While your form was open, this case was reviewed by {OTHER[:8]} as 'technical' on "
    )
    assert _reviews.history(demo_copy, case)["reviewer"].tolist() == [OTHER]
    at.button(key="cr_submit").click().run()  # now seen: a second submit replaces it
    assert _reviews.history(demo_copy, case)["reviewer"].tolist() == [OTHER, "local"]


def test_a_reviewer_withdraws_their_review(app, demo_copy) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/review.py")
    case = key_of(at.dataframe[0].value.iloc[0])
    at.radio(key="cr_category").set_value("AI error")  # no category is chosen at first
    at.button(key="cr_submit").click().run()
    at.selectbox(key="cr_show").set_value("reviewed").run()
    at.selectbox(key="cr_case").set_value(case).run()
    at.button(key="cr_withdraw").click().run()
    assert not at.exception
    assert at.success[0].value == f"Withdrawn: your review of {' · '.join(case)}."
    assert _reviews.latest_reviews(demo_copy).empty
    assert _reviews.history(demo_copy, case)["action"].tolist() == ["review", "withdraw"]
    # another's review has no withdraw button, and cannot be withdrawn by someone else
    review(demo_copy, case, "technical")
    at.run()
    assert "cr_withdraw" not in [b.key for b in at.button]
    with pytest.raises(InputError, match="has no review of yours to withdraw"):
        _reviews.withdraw_review(demo_copy, case, reviewer="local")


def test_comments_are_limited_in_length(app, demo_copy) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/review.py")
    assert at.text_area(key="cr_comment").max_chars == 2000
    case = key_of(at.dataframe[0].value.iloc[0])
    with pytest.raises(InputError, match="the comment has 2,001 characters; at most 2,000"):
        review(demo_copy, case, "AI error", comment="x" * 2001)
    assert _reviews.history(demo_copy, case).empty


def reviewed_and_picked(app, data_dir: Path):  # noqa: ANN001, ANN201
    """The page with the first case reviewed by the local user and picked under 'reviewed':
    the Withdraw button is drawn. Returns (the AppTest, the case)."""
    at = app(data_dir, "views/review.py")
    case = key_of(at.dataframe[0].value.iloc[0])
    at.radio(key="cr_category").set_value("AI error")
    at.button(key="cr_submit").click().run()
    at.selectbox(key="cr_show").set_value("reviewed").run()
    at.selectbox(key="cr_case").set_value(case).run()
    assert "cr_withdraw" in [b.key for b in at.button]
    return at, case


def test_withdraw_in_a_stale_tab_says_the_review_was_already_withdrawn(app, demo_copy) -> None:  # noqa: ANN001
    at, case = reviewed_and_picked(app, demo_copy)
    _reviews.withdraw_review(demo_copy, case, reviewer="local")  # from another tab
    at.button(key="cr_withdraw").click().run()
    assert not at.exception
    today = _reviews.latest_for(demo_copy, case)["reviewed_at"][:10]
    assert [w.value for w in at.warning] == [
        "This review was already withdrawn or replaced (the latest entry of the case: by you "
        f"(who withdrew the review) on {today}); nothing was withdrawn. The list now shows the "
        "current reviews."
    ]
    assert not at.success and not at.error
    assert _reviews.history(demo_copy, case)["action"].tolist() == ["review", "withdraw"]
    assert at.dataframe[0].value.empty  # 'reviewed' lists no case now
    at.run()  # said once, not on every run after
    assert not at.warning


def test_withdraw_in_a_stale_tab_says_the_review_was_replaced(app, demo_copy) -> None:  # noqa: ANN001
    at, case = reviewed_and_picked(app, demo_copy)
    review(demo_copy, case, "technical")  # another reviewer replaced it
    at.button(key="cr_withdraw").click().run()
    assert not at.exception
    today = _reviews.latest_for(demo_copy, case)["reviewed_at"][:10]
    assert at.warning[0].value == (
        "This review was already withdrawn or replaced (the latest entry of the case: by "
        f"{OTHER[:8]} as 'technical' on {today}); nothing was withdrawn. The list now shows the "
        "current reviews."
    )
    assert _reviews.history(demo_copy, case)["reviewer"].tolist() == ["local", OTHER]
    shown = at.dataframe[0].value
    assert shown[["category", "reviewer"]].values.tolist() == [["technical", OTHER[:8]]]


def test_withdraw_in_a_stale_tab_does_not_withdraw_my_newer_review(app, demo_copy) -> None:  # noqa: ANN001
    at, case = reviewed_and_picked(app, demo_copy)
    review(demo_copy, case, "ambiguous", reviewer="local")  # replaced in another tab
    at.button(key="cr_withdraw").click().run()
    assert not at.exception
    assert at.warning[0].value.startswith(
        "This review was already withdrawn or replaced (the latest entry of the case: by you as "
        "'ambiguous' on "
    )
    assert _reviews.history(demo_copy, case)["category"].tolist() == ["AI error", "ambiguous"]
    # the button is drawn again for the current review, and withdraws that one
    at.button(key="cr_withdraw").click().run()
    assert at.success[0].value == f"Withdrawn: your review of {' · '.join(case)}."
    assert _reviews.history(demo_copy, case)["action"].tolist() == ["review", "review", "withdraw"]


KEY_MISSING = (
    "the pseudonymisation key is missing from the data directory; an administrator must restore "
    "it from the backup (the server log and the `radqa` command name the file)"
)


#: a logged-in reviewer (st.user)
REVIEWER = {"is_logged_in": True, "iss": "https://idp.example.org", "sub": "s-1",
            "name": "Dr Who", "groups": ["radqa-reviewer"], "iat": int(time.time())}  # fmt: skip


@pytest.fixture
def no_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key comes from the data dir only (no RADQA_PSEUDO_KEY)."""
    monkeypatch.delenv("RADQA_PSEUDO_KEY", raising=False)


def shown_text(at) -> str:  # noqa: ANN001
    """Every message, caption and text the run ``at`` drew, main area and sidebar."""
    kinds = ("error", "warning", "info", "success", "caption", "markdown", "title", "text")
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


@pytest.mark.usefixtures("no_key_env")
def test_a_missing_key_is_told_without_the_server_path(app, demo_copy, caplog) -> None:  # noqa: ANN001
    assert not (demo_copy / "pseudo.key").exists()
    with caplog.at_level("WARNING"):
        at = app(demo_copy, "views/review.py", login=True, user=REVIEWER)
    assert not at.exception
    assert [e.value for e in at.error] == [
        f"Recording reviews is off: RadQA cannot compute your pseudonym: {KEY_MISSING}"
    ]
    assert str(demo_copy) not in shown_text(at) and "pseudo.key" not in shown_text(at)
    # the administrator finds the file in the server's log
    assert f"the pseudonymisation key {demo_copy / 'pseudo.key'} is missing" in caplog.text


@pytest.mark.usefixtures("no_key_env")
def test_old_reviews_without_a_key_are_told_without_the_path(app, demo_copy, con, caplog) -> None:  # noqa: ANN001
    from metrics import discordant_cases

    first = discordant_cases(con, kind="both", limit=200).iloc[0]
    old = sqlite3.connect(_reviews.reviews_path(demo_copy))
    old.execute(
        "create table reviews (id integer primary key autoincrement, study_uid text not null,"
        " finding text not null, model_name text not null, category text not null,"
        " comment text not null default '', reviewer text not null,"
        " reviewed_at text not null, snapshot_id text)"
    )
    old.execute(
        "insert into reviews (study_uid, finding, model_name, category, reviewer, reviewed_at)"
        " values (?, ?, ?, 'AI error', 'rita@hospital.example', '2026-01-01')",
        (first["study_uid"], first["finding"], first["model_name"]),
    )
    old.commit()
    old.close()
    with caplog.at_level("WARNING"):
        at = app(demo_copy, "views/review.py")  # any viewer sees the warning
    assert not at.exception
    problem = (
        "reviews.sqlite in the data directory holds reviewer identities from an older RadQA, "
        f"which must be replaced by pseudonyms before a review is added: {KEY_MISSING}"
    )
    assert [w.value for w in at.warning] == [problem]
    assert [e.value for e in at.error] == [f"Recording reviews is off: {problem}"]
    assert str(demo_copy) not in shown_text(at) and "pseudo.key" not in shown_text(at)
    assert f"the pseudonymisation key {demo_copy / 'pseudo.key'} is missing" in caplog.text


@pytest.mark.usefixtures("no_key_env")
def test_an_unusable_key_is_told_without_the_server_path(app, demo_copy, caplog) -> None:  # noqa: ANN001
    key = demo_copy / "pseudo.key"
    key.write_text("0" * 64)
    key.chmod(0o644)  # other users may read it: load_key refuses it
    with caplog.at_level("WARNING"):
        at = app(demo_copy, "views/review.py", login=True, user=REVIEWER)
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Recording reviews is off: RadQA cannot compute your pseudonym: the pseudonymisation key "
        "cannot be used; an administrator must fix it (the server log and the `radqa` command "
        "say why)"
    ]
    assert str(demo_copy) not in shown_text(at) and "pseudo.key" not in shown_text(at)
    assert f"Run: chmod 600 '{key}'" in caplog.text
