"""Case review: discordant cases (AI vs reference), marked reviewed in DATA_DIR/reviews.sqlite."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import streamlit as st

import metrics
from dashboard import _audit, _reviews, _state
from dashboard._columns import rows_holding, whole
from dashboard._context import page_context
from radqa.errors import InputError

KINDS = {
    "both": "False negatives and false positives",
    "fn": "False negatives (AI missed)",
    "fp": "False positives (AI over-called)",
}

KIND_WORDS = {"fn": "false negative (AI missed)", "fp": "false positive (AI over-called)"}
#: The case list's columns in the order shown: what the case is (discordance, finding, AI model,
#: AI score against the operating point, the reference standard), its review category and the
#: study UID (to find the study in PACS) first, in widths that add up to the table's 818 px at a
#: 1280 x 800 window (_columns.TABLE_WIDTH_1280): in view without scrolling. Their text wraps in
#: tall rows: the discordance on two lines, a study UID (up to 64 characters, about 400 px) on
#: up to three (it started at the table's right edge: to read one, the table had to scroll); the
#: rest follow.
COLUMNS = {
    "kind": st.column_config.TextColumn("Discordance", width=112, pinned=True),
    "finding": st.column_config.TextColumn("Finding", width=120),
    "model_name": st.column_config.TextColumn("Model", width=105),
    "score": st.column_config.NumberColumn("AI score", format="%.3f", width=65),
    "threshold": st.column_config.NumberColumn(
        "Threshold", format="%.3f", width=80, help="The AI's operating point (decision threshold)"
    ),
    "ref_label": st.column_config.TextColumn(
        "Reference", width=80, help="The reference standard's label"
    ),
    "category": st.column_config.TextColumn(
        "Category", width=80, help="The review category: what the discordance is due to"
    ),
    "study_uid": st.column_config.TextColumn("Study UID", width=176),
    "model_version": "Model version",
    "ref_source": "Reference from",
    "n_readers": "Readers",
    "site": "Site",
    "modality": "Modality",
    "scanner_model": "Scanner model",
    "study_datetime": "Study date",
    "patient_age": "Age",
    "patient_sex": "Sex",
    "patient_pid": "Patient (pseudonym)",
    "comment": "Review comment",
    "reviewer": "Reviewer",
    "reviewed_at": "Reviewed (UTC)",
}
#: The columns in view whose text wraps, and their widths (px).
WRAPPED = {
    col: COLUMNS[col]["width"]
    for col in ("kind", "finding", "model_name", "ref_label", "category", "study_uid")
}
#: Rows the case list shows before it scrolls.
CASE_ROWS = 8

ctx = page_context("Case review")
snap = ctx.snap
assert snap is not None
if "cr_saved" in st.session_state:
    st.success(st.session_state.pop("cr_saved"))
    st.session_state["cr_comment"] = ""  # the form keeps its input when a save is refused
    st.session_state["cr_category"] = None  # the next case starts without a category
if "cr_not_withdrawn" in st.session_state:  # set by withdraw_clicked, before this run
    st.warning(st.session_state.pop("cr_not_withdrawn"))
if "cr_withdraw_refused" in st.session_state:
    st.error(st.session_state.pop("cr_withdraw_refused"))
left, mid, right = st.columns([2, 1, 1])
kind = left.selectbox("Discordance", list(KINDS), format_func=KINDS.get, key="cr_kind")
limit = int(mid.number_input("At most", 10, 5000, 200, step=50, key="cr_limit"))
show = right.selectbox("Show", ["not yet reviewed", "reviewed", "all"], key="cr_show")

cases = _state.call("discordant_cases", snap, filters=ctx.filters, kind=kind, limit=limit)
if cases.empty:
    st.info(
        "No discordant case under these filters: either the AI agrees with every reference "
        "read here, or the reads are still pending."
    )
    st.stop()


def one_version_per_case() -> Mapping[tuple[str, str, str], str]:
    """The model version of each discordant (study, finding, model) that has exactly one: what
    a review from before model versions were recorded is attached to (once, on upgrade)."""
    cur = _state.connection(snap.data_dir).cursor()
    try:
        every = metrics.discordant_cases(cur, kind="both", limit=2**62)
    finally:
        cur.close()
    found = every.groupby(["study_uid", "finding", "model_name"])["model_version"].unique()
    return {k: str(v[0]) for k, v in found.items() if len(v) == 1}


with st.spinner("Bringing reviews.sqlite up to date ..."):
    store_problem = _reviews.upgrade(snap.data_dir, one_version_per_case)
if store_problem:
    st.warning(store_problem)
me = ctx.user.who
keys = list(_reviews.CASE_KEY)
reviews = _reviews.latest_reviews(snap.data_dir).astype({k: object for k in keys})
reviews["reviewer"] = [_reviews.shown_reviewer(r, me) for r in reviews["reviewer"]]
cases = cases.astype({k: object for k in keys})
merged = cases.merge(
    reviews[[*keys, "category", "comment", "reviewer", "reviewed_at"]], on=keys, how="left"
)
if show == "not yet reviewed":
    merged = merged[merged["category"].isna()]
elif show == "reviewed":
    merged = merged[merged["category"].notna()]
# how many there are in all: the confusion counts of the same filters (SQL, cached), not the
# list, which stops at "At most"
counts = _state.summarize(snap, ctx.filters)
n_all = int(sum(counts[k].sum() for k in (("fn", "fp") if kind == "both" else (kind,))))
n_reviewed = int(cases.merge(reviews[keys], on=keys).shape[0])
more = " (raise 'At most' to list more)" if n_all > len(cases) else ""
st.caption(
    f"Showing {len(cases):,} of {n_all:,} discordant case(s) under these filters, the most "
    f"confident AI errors first{more}; {n_reviewed:,} of those shown reviewed (a review covers "
    "one model version; a reviewer is shown as 'you' or by the first characters of their "
    "pseudonym). Study UIDs are shown as loaded, to find the study in PACS; patient and reader "
    "ids are pseudonymised at ingest."
)
cols = list(COLUMNS)
shown = merged[[c for c in cols if c in merged.columns]].copy()
shown["kind"] = shown["kind"].map(KIND_WORDS).fillna(shown["kind"])
if "ref_label" in shown:
    shown["ref_label"] = shown["ref_label"].map({1: "positive", 0: "negative"})
row = rows_holding(shown, WRAPPED)  # the longest UID listed whole, on up to three lines
st.dataframe(
    shown,
    hide_index=True,
    width="stretch",
    row_height=row,
    height=38 + row * max(1, min(len(shown), CASE_ROWS)),  # then a scroll bar
    column_config={**COLUMNS, "site": whole("Site", shown.get("site", []))},
)
if merged.empty:
    st.info("No case in this view.")
    st.stop()

st.subheader("Record a review")
if not ctx.user.can("reviewer"):
    roles = ", ".join(sorted(ctx.user.roles)) or "none"
    st.caption(f"Recording reviews needs the reviewer role; your roles: {roles}.")
    st.stop()
if not ctx.user.identified or store_problem:
    st.error(f"Recording reviews is off: {ctx.user.problem or store_problem}")
    st.stop()


def case_label(case: tuple[str | None, ...] | str) -> str:
    """The label of a case key: every part of the key, so no two cases share a label (a label
    is itself when Streamlit or AppTest hands one back)."""
    if isinstance(case, str):
        return case
    return " · ".join(p if p is not None else "(no version)" for p in case)


def case_key(row: pd.Series) -> _reviews.Case:
    version = row["model_version"]
    return (
        str(row["study_uid"]),
        str(row["finding"]),
        str(row["model_name"]),
        None if pd.isna(version) else str(version),
    )


def said(row: dict | None) -> str:
    """'you' / a short pseudonym, the verdict and the date of a review row."""
    if row is None:
        return "nobody"
    who = _reviews.shown_reviewer(row["reviewer"], me)
    when = str(row["reviewed_at"])[:10]
    if row["action"] == "withdraw":
        return f"{who} (who withdrew the review) on {when}"
    return f"{who} as '{row['category']}' on {when}"


# Options are case keys, not row positions: when the list changes under the page (another
# reviewer saved, a new snapshot, other filters), the label the browser sends back names the
# same case, or no listed case at all (then Streamlit resets the box and the check below refuses).
options = list(dict.fromkeys(case_key(r) for _, r in merged.iterrows()))
seen = st.session_state.get("cr_seen")  # (case, its latest row id) as the last run showed them
choice = st.selectbox(
    "Case",
    options,
    format_func=case_label,
    key="cr_case",
    on_change=lambda: st.session_state.pop("cr_repick", None),  # the user picked a case
)
latest = _reviews.latest_for(snap.data_dir, choice) if choice else None
latest_id = latest["id"] if latest else None
reviewed = latest is not None and latest["action"] == "review"
with st.form("cr_form"):
    if reviewed:
        st.warning(
            f"Already reviewed by {said(latest)}; saving replaces it (the history keeps it)."
        )
    category = st.radio(
        "Category",
        _reviews.CATEGORIES,
        index=None,  # a click on "Mark reviewed" alone must not record an AI error
        horizontal=True,
        key="cr_category",
        help="Required: what the discordance is due to.",
    )
    comment = st.text_area("Comment", key="cr_comment", max_chars=_reviews.MAX_COMMENT)
    submitted = st.form_submit_button("Mark reviewed", type="primary", key="cr_submit")


def withdraw_clicked(
    data_dir: Path, snapshot_id: str | None, case: _reviews.Case, seen_id: int
) -> None:
    """Withdraw the review the button was drawn for (``seen_id``), or say why not.

    The button's callback, not its return value: when the review was withdrawn or replaced
    after the button was drawn (in another tab, by another reviewer), the rerun the click
    starts no longer draws the button, and Streamlit drops the click of a button a run does
    not draw without a word; it still runs the callback, before the page. The page then shows
    the message above the current reviews. ``me``, :func:`said` and :func:`case_label` are
    those of the run that drew the button."""
    try:
        withdrawn = _reviews.withdraw_review(
            data_dir, case, reviewer=me, snapshot_id=snapshot_id, expected_latest=seen_id
        )
    except _reviews.ReviewChanged:
        now = _reviews.latest_for(data_dir, case)
        st.session_state["cr_not_withdrawn"] = (
            "This review was already withdrawn or replaced (the latest entry of the case: by "
            f"{said(now)}); nothing was withdrawn. The list now shows the current reviews."
        )
        return
    except InputError as exc:
        st.session_state["cr_withdraw_refused"] = f"Nothing was withdrawn: {exc}"
        return
    _audit.log_event(
        data_dir,
        who=me,
        what="review:withdraw",
        snapshot_id=snapshot_id,
        **dict(zip(_reviews.CASE_KEY, case, strict=True)),
        withdrawn=withdrawn["category"],
    )
    st.session_state["cr_saved"] = f"Withdrawn: your review of {case_label(case)}."


if reviewed and latest is not None and latest["reviewer"] == me:
    st.button(
        "Withdraw my review",
        key="cr_withdraw",
        on_click=withdraw_clicked,
        args=(snap.data_dir, snap.snapshot_id, choice, latest["id"]),
    )
st.session_state["cr_seen"] = (choice, latest_id)


def refused() -> str | None:
    """Why the submit of this run must not be saved: the case or its review changed, or the
    case box shows the case Streamlit put there after the list changed, not one the user
    picked since (the form keeps their category and comment, which were meant for another)."""
    if st.session_state.get("cr_repick"):
        return (
            "Pick the case in the Case box first: after the case list changed, it shows the "
            "first case, not the one you had picked. Nothing was saved."
        )
    if seen is None or choice is None or seen[0] != choice:
        picked = f" ({case_label(seen[0])})" if seen and seen[0] else ""
        st.session_state["cr_repick"] = True
        return (
            f"The case list changed before you submitted: the case you had picked{picked} is "
            "no longer listed here (another reviewer may have saved it, a new snapshot may "
            "have been published, or the filters changed). Nothing was saved; pick the case "
            "again."
        )
    if seen[1] != latest_id:
        return (
            f"While your form was open, this case was reviewed by {said(latest)}. Nothing was "
            "saved: read it above, then submit again to replace it."
        )
    return None


if submitted:
    if category is None:
        st.error(
            f"Choose a category ({', '.join(_reviews.CATEGORIES)}) before marking the case "
            "reviewed. Nothing was saved."
        )
        st.stop()
    problem = refused()
    if problem:
        st.error(problem)
        st.stop()
    try:
        study_uid, finding, model_name, version = choice
        replaced = _reviews.add_review(
            snap.data_dir,
            study_uid=study_uid,
            finding=finding,
            model_name=model_name,
            model_version=version,
            category=category,
            comment=comment or "",
            reviewer=me,
            snapshot_id=snap.snapshot_id,
            expected_latest=latest_id,
        )
        message = f"Saved: {case_label(choice)} marked '{category}' by you" + (
            f", replacing the review by {said(replaced)}." if replaced else "."
        )
        what = "review:replace" if replaced else "review:save"
        details = {"category": str(category)}
        if replaced:
            details |= {"replaces": replaced["reviewer"], "replaced": replaced["category"]}
    except InputError as exc:
        st.error(f"Nothing was saved: {exc}")
        st.stop()
    _audit.log_event(
        snap.data_dir,
        who=me,
        what=what,
        snapshot_id=snap.snapshot_id,
        **dict(zip(_reviews.CASE_KEY, choice, strict=True)),
        **details,
    )
    st.session_state["cr_saved"] = message
    st.rerun()

if choice is not None:
    past = _reviews.history(snap.data_dir, choice)
    if not past.empty:
        with st.expander(f"History of this case ({len(past)})"):
            past["reviewer"] = [_reviews.shown_reviewer(r, me) for r in past["reviewer"]]
            st.table(past)
