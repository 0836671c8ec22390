"""Case review: discordant cases (AI vs reference), marked reviewed in DATA_DIR/reviews.sqlite."""

from __future__ import annotations

import streamlit as st

from dashboard import _reviews, _state
from dashboard._context import page_context

KINDS = {
    "both": "False negatives and false positives",
    "fn": "False negatives (AI missed)",
    "fp": "False positives (AI over-called)",
}

KIND_WORDS = {"fn": "false negative (AI missed)", "fp": "false positive (AI over-called)"}
COLUMNS = {
    "kind": "Discordance",
    "study_uid": "Study UID",
    "finding": "Finding",
    "model_name": "Model",
    "model_version": "Model version",
    "score": st.column_config.NumberColumn("AI score", format="%.3f"),
    "threshold": st.column_config.NumberColumn("Operating point", format="%.3f"),
    "ref_label": "Reference standard",
    "ref_source": "Reference from",
    "n_readers": "Readers",
    "site": "Site",
    "modality": "Modality",
    "scanner_model": "Scanner model",
    "study_datetime": "Study date",
    "patient_age": "Age",
    "patient_sex": "Sex",
    "patient_pid": "Patient (pseudonym)",
    "category": "Review category",
    "reviewer": "Reviewer",
}

ctx = page_context("Case review")
snap = ctx.snap
assert snap is not None
if "cr_saved" in st.session_state:
    st.success(st.session_state.pop("cr_saved"))
    st.session_state["cr_comment"] = ""  # the form keeps its input when a save is refused
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
store_problem = _reviews.upgrade(snap.data_dir)  # an older file: raw reviewers -> pseudonyms
if store_problem:
    st.warning(store_problem)
me = ctx.user.who
reviews = _reviews.latest_reviews(snap.data_dir)
reviews["reviewer"] = [_reviews.shown_reviewer(r, me) for r in reviews["reviewer"]]
keys = ["study_uid", "finding", "model_name"]
merged = cases.merge(reviews[[*keys, "category", "reviewer", "reviewed_at"]], on=keys, how="left")
if show == "not yet reviewed":
    merged = merged[merged["category"].isna()]
elif show == "reviewed":
    merged = merged[merged["category"].notna()]
st.caption(
    f"{len(cases):,} discordant case(s) (the most confident AI errors first); "
    f"{int(cases.merge(reviews[keys], on=keys).shape[0]):,} reviewed. Study UIDs are shown "
    "as loaded, to find the study in PACS; patient and reader ids are pseudonymised at ingest, "
    "and a reviewer is shown as 'you' or by the first characters of their pseudonym."
)
cols = [
    "kind",
    "study_uid",
    "finding",
    "model_name",
    "model_version",
    "score",
    "threshold",
    "ref_label",
    "ref_source",
    "n_readers",
    "site",
    "modality",
    "scanner_model",
    "study_datetime",
    "patient_age",
    "patient_sex",
    "patient_pid",
    "category",
    "reviewer",
]
shown = merged[[c for c in cols if c in merged.columns]].copy()
shown["kind"] = shown["kind"].map(KIND_WORDS).fillna(shown["kind"])
if "ref_label" in shown:
    shown["ref_label"] = shown["ref_label"].map({1: "positive", 0: "negative"})
st.dataframe(shown, hide_index=True, width="stretch", column_config=COLUMNS)
if merged.empty:
    st.info("No case in this view.")
    st.stop()

st.subheader("Record a review")
if not ctx.user.can("reviewer"):
    st.caption(f"Recording reviews needs the reviewer role; you are {ctx.user.name}.")
    st.stop()
if not ctx.user.identified or store_problem:
    st.error(f"Recording reviews is off: {ctx.user.problem or store_problem}")
    st.stop()
CASE_KEY = ("study_uid", "finding", "model_name", "model_version")


def case_label(case: tuple[str, ...] | str) -> str:
    """The label of a case key: every part of the key, so no two cases share a label (a label
    is itself when Streamlit or AppTest hands one back)."""
    return case if isinstance(case, str) else " · ".join(case)


# Options are case keys, not row positions: when the list changes under the page (another
# reviewer saved, a new snapshot, other filters), the label the browser sends back names the
# same case, or no listed case at all (then Streamlit resets the box and the check below refuses).
options = list(dict.fromkeys(tuple(str(r[k]) for k in CASE_KEY) for _, r in merged.iterrows()))
seen = st.session_state.get("cr_seen")  # the case the form showed on the last run
choice = st.selectbox("Case", options, format_func=case_label, key="cr_case")
with st.form("cr_form"):
    category = st.radio("Category", _reviews.CATEGORIES, horizontal=True, key="cr_category")
    comment = st.text_area("Comment", key="cr_comment")
    submitted = st.form_submit_button("Mark reviewed", type="primary", key="cr_submit")
st.session_state["cr_seen"] = choice
if submitted:
    if choice is None or seen != choice:
        picked = f" ({case_label(seen)})" if seen else ""
        st.error(
            f"The case list changed before you submitted: the case you had picked{picked} is no "
            "longer listed here (another reviewer may have saved it, a new snapshot may have "
            "been published, or the filters changed). Nothing was saved; pick the case again."
        )
        st.stop()
    study_uid, finding, model_name, _version = choice
    _reviews.add_review(
        snap.data_dir,
        study_uid=study_uid,
        finding=finding,
        model_name=model_name,
        category=str(category),
        comment=comment or "",
        reviewer=ctx.user.who,
        snapshot_id=snap.snapshot_id,
    )
    st.session_state["cr_saved"] = f"Saved: {case_label(choice)} marked '{category}' by you."
    st.rerun()
