"""Login and roles: the login gate, role claims, role-restricted pages, and `radqa serve`."""

from __future__ import annotations

import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import _audit, _reviews
from dashboard.auth import (
    legacy_pseudonym,
    login_configured,
    pseudonym_of,
    roles_from_claims,
    user_pseudonym,
)
from ingest.pseudonym import load_key
from radqa import serve as serve_mod
from radqa.errors import ConfigError

from .conftest import TIMEOUT, kpi_tiles, open_tab

AUTH_TOML = """
[auth]
redirect_uri = "http://radqa.example.org/oauth2callback"
cookie_secret = "x"
client_id = "radqa"
client_secret = "y"
server_metadata_url = "https://idp.example.org/.well-known/openid-configuration"
"""


ISSUER = "https://idp.example.org/realms/hospital"
SUB = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"


def user(*groups: str, sub: str = SUB, email: str = "dr.who@example.org") -> dict[str, object]:
    return {
        "is_logged_in": True,
        "iss": ISSUER,
        "sub": sub,
        "email": email,
        "name": "Dr Who",
        "groups": list(groups),
        "iat": int(time.time()),  # without it the login is refused (test_login_age.py)
    }


def keyed(data_dir: Path, demo_dir: Path) -> bytes:
    """Give a private copy of the demo the demo's pseudonymisation key; return the key."""
    shutil.copy(demo_dir / "pseudo.key", data_dir / "pseudo.key")
    return load_key(data_dir, create=False)


@pytest.mark.parametrize(
    ("claims", "claim", "expected"),
    [
        ({"roles": ["viewer"]}, "roles", {"viewer"}),
        ({"roles": ["radqa-reviewer", "unrelated"]}, "roles", {"viewer", "reviewer"}),
        ({"groups": "RadQA.Admin"}, "groups", {"viewer", "reviewer", "admin"}),
        ({"groups": "/radqa/admin other"}, "groups", {"viewer", "reviewer", "admin"}),
        ({"roles": ["admin"]}, "groups", set()),  # another claim name: nothing granted
        ({"roles": ["administrator", "view"]}, "roles", set()),
        ({}, "roles", set()),
        # a generic group list: bare names are other systems' groups
        ({"groups": ["Admin", "pacs-users"]}, "groups", set()),
        ({"groups": "admin reviewer"}, "groups", set()),
        ({"roles": ["admin"]}, "roles", {"viewer", "reviewer", "admin"}),  # app-specific claim
        ({"roles": "Reviewer"}, "roles", {"viewer", "reviewer"}),
        # the prefix needs one separator
        ({"groups": ["radqaadmin", "radqareviewer"]}, "groups", set()),
        ({"groups": ["radqa_admin"]}, "groups", {"viewer", "reviewer", "admin"}),
        ({"groups": ["radqa:reviewer"]}, "groups", {"viewer", "reviewer"}),
        ({"groups": ["radqa admin"]}, "groups", {"viewer", "reviewer", "admin"}),
        ({"groups": "radqa viewer, not-admin"}, "groups", {"viewer"}),
        ({"groups": "radqa not-admin"}, "groups", set()),
        # a prefixed name inside a longer one is not a role (a QA re-test)
        ({"groups": "radqa-viewer radqa-admin-requested"}, "groups", {"viewer"}),
        ({"groups": "radqa-admin_old,radqa-reviewer"}, "groups", {"viewer", "reviewer"}),
        ({"groups": ["radqa-admin-requested"]}, "groups", set()),
        # other types than a string or a list of strings grant nothing and do not crash
        ({"groups": {"admin": False, "viewer": True}}, "groups", set()),
        ({"roles": {"radqa-admin": True}}, "roles", set()),
        ({"groups": True}, "groups", set()),
        ({"groups": 1}, "groups", set()),
        ({"groups": [True, 3, {"x": "radqa-admin"}, "RadQA.Viewer"]}, "groups", {"viewer"}),
    ],
)
def test_roles_from_claims(claims, claim, expected) -> None:  # noqa: ANN001
    assert roles_from_claims(claims, claim) == frozenset(expected)


def test_logged_out_user_sees_only_a_login_button(app, demo_dir) -> None:  # noqa: ANN001
    at = app(demo_dir, login=True, user={"is_logged_in": False})
    assert not at.exception
    assert [b.label for b in at.button] == ["Log in"]
    assert not kpi_tiles(at) and not at.sidebar.multiselect and not at.dataframe


NO_ROLE = "Your identity provider gave you no RadQA role: "
ASK = ". Ask the RadQA administrator for access."
PREFIXED = "radqa-viewer, radqa-reviewer or radqa-admin"
NOT_IN_GROUPS = (
    " (a bare viewer, reviewer or admin does not count in a claim named 'groups', where it is "
    "some other system's group)"
)
ANY_FORM = "radqa-viewer, radqa-reviewer, radqa-admin, viewer, reviewer or admin"


def no_role_page(at: AppTest) -> str:
    """The one error of a page that refused a user without a role (nothing else shown), which
    names neither the user nor their e-mail."""
    assert not at.exception
    assert not kpi_tiles(at) and not at.sidebar.multiselect and not at.dataframe
    assert [b.label for b in at.button] == ["Log out"]
    assert len(at.error) == 1
    message = at.error[0].value
    assert "Dr Who" not in message and "dr.who" not in message
    return message


def test_user_without_role_is_refused(app, demo_dir) -> None:  # noqa: ANN001
    # a bare 'admin' in 'groups' is another system's group: the advice names only prefixed forms
    at = app(demo_dir, login=True, user=user("staff", "admin"))
    assert no_role_page(at) == (
        f"{NO_ROLE}your login's 'groups' claim holds none of {PREFIXED}{NOT_IN_GROUPS}{ASK}"
    )


@pytest.mark.parametrize(
    ("claim", "kind"),
    [(True, "true (a boolean)"), ({"admin": False, "viewer": True}, "an object"), (7, "a number")],
)
def test_a_claim_of_the_wrong_type_is_refused_with_the_message(app, demo_dir, claim, kind) -> None:  # noqa: ANN001
    at = app(demo_dir, login=True, user={**user(), "groups": claim})
    assert no_role_page(at) == (
        f"{NO_ROLE}your login's 'groups' claim is {kind}, not a string or a list of strings, so "
        f"it grants no role; it should hold {PREFIXED}{NOT_IN_GROUPS}{ASK}"
    )


def test_a_missing_claim_is_named(app, demo_dir) -> None:  # noqa: ANN001
    at = app(demo_dir, login=True, user={k: v for k, v in user().items() if k != "groups"})
    assert no_role_page(at) == (
        f"{NO_ROLE}your login has no 'groups' claim; it should hold {PREFIXED}{NOT_IN_GROUPS}{ASK}"
    )


def roles_claim_app(app, data_dir: Path, roles: object) -> AppTest:  # noqa: ANN001
    """The dashboard with login on, ``[radqa] roles_claim = "roles"`` (an app-specific claim,
    where bare names count), and a user whose ``roles`` claim is ``roles``."""
    return app(
        data_dir, login=True, user={**user(), "roles": roles}, radqa={"roles_claim": "roles"}
    )


def test_an_app_specific_claim_without_role_advises_bare_names_too(app, demo_dir) -> None:  # noqa: ANN001
    at = roles_claim_app(app, demo_dir, ["staff", "administrator"])
    assert no_role_page(at) == f"{NO_ROLE}your login's 'roles' claim holds none of {ANY_FORM}{ASK}"


def test_a_dict_valued_roles_claim_is_refused_with_the_message(app, demo_dir) -> None:  # noqa: ANN001
    at = roles_claim_app(app, demo_dir, {"radqa-admin": True, "admin": True})
    assert no_role_page(at) == (
        f"{NO_ROLE}your login's 'roles' claim is an object, not a string or a list of strings, "
        f"so it grants no role; it should hold {ANY_FORM}{ASK}"
    )


def test_a_bare_role_in_the_app_specific_claim_lets_the_user_in(app, demo_dir) -> None:  # noqa: ANN001
    at = roles_claim_app(app, demo_dir, ["viewer"])
    assert not at.exception and not any(NO_ROLE in e.value for e in at.error)
    assert len(kpi_tiles(at)) == 60


def test_viewer_sees_pages_but_cannot_review_or_export(app, demo_dir) -> None:  # noqa: ANN001
    at = app(demo_dir, login=True, user=user("radqa-viewer"))
    assert not at.exception
    assert len(kpi_tiles(at)) == 60  # the overview tiles
    greeting = [c.value for c in at.sidebar.caption if c.value.startswith("Logged in as")]
    assert len(greeting) == 1 and greeting[0].endswith(
        " (viewer): your pseudonym in reviews and the audit log"
    )
    assert "dr.who" not in greeting[0]  # no e-mail on a page, not even the user's own
    at.switch_page("views/review.py").run()
    assert not at.exception
    refusal = [c.value for c in at.caption if "needs the reviewer role" in c.value]
    assert refusal == ["Recording reviews needs the reviewer role; your roles: viewer."]
    assert not at.get("form")
    open_tab(at.switch_page("views/sites.py").run(), "ss_tab", "Table")
    assert any("needs the admin role" in c.value for c in at.caption)
    assert not at.get("download_button")


def _admin_page() -> None:
    from dashboard import auth

    viewer = auth.User("3fa2c9d1" * 3, frozenset({"viewer"}), logged_in=True, name="Dr Who")
    auth.require(viewer, "admin", "Data health")


def test_a_page_refused_for_want_of_a_role_names_no_user(demo_copy, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("RADQA_DATA_DIR", str(demo_copy))
    at = AppTest.from_function(_admin_page, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "Data health needs the 'admin' role; your roles: viewer."
    ]


def test_viewer_cannot_open_admin_pages(app, demo_dir) -> None:  # noqa: ANN001
    at = app(demo_dir, login=True, user=user("radqa-viewer"))
    # the admin pages are not in a viewer's navigation at all
    with pytest.raises(ValueError, match="Could not find a navigation page") as err:
        at.switch_page("views/health.py")
    assert "views/reports.py" not in str(err.value)
    assert "views/review.py" in str(err.value)


def test_reviewer_is_stored_and_shown_by_pseudonym(app, demo_copy, demo_dir) -> None:  # noqa: ANN001
    key = keyed(demo_copy, demo_dir)
    pid = user_pseudonym(key, ISSUER, SUB)
    at = app(demo_copy, "views/review.py", login=True, user=user("radqa-reviewer"))
    assert not at.exception
    at.radio(key="cr_category").set_value("ambiguous")
    at.text_area(key="cr_comment").set_value("borderline")
    at.button(key="cr_submit").click().run()
    assert not at.exception
    assert at.success[0].value.endswith("marked 'ambiguous' by you.")
    saved = _reviews.latest_reviews(demo_copy)
    assert saved["reviewer"].tolist() == [pid]
    raw = _reviews.reviews_path(demo_copy).read_bytes()
    assert b"dr.who" not in raw and b"Dr Who" not in raw and SUB.encode() not in raw
    # the reviewer sees "you"; another user sees the first 8 characters of the pseudonym
    at.selectbox(key="cr_show").set_value("reviewed").run()
    assert at.dataframe[0].value["reviewer"].tolist() == ["you"]
    other = app(demo_copy, "views/review.py", login=True, user=user("radqa-viewer", sub="x-2"))
    other.selectbox(key="cr_show").set_value("reviewed").run()
    assert other.dataframe[0].value["reviewer"].tolist() == [pid[:8]]
    # the same person with a changed e-mail is the same pseudonym (issuer + subject)
    assert user_pseudonym(key, ISSUER, SUB, email="new@example.org") == pid
    assert pseudonym_of(demo_copy, ISSUER, SUB) == pid
    assert pseudonym_of(demo_copy, "https://other.example.org", SUB) != pid
    assert user_pseudonym(key, ISSUER, None, email="Dr.Who@example.org ") == user_pseudonym(
        key, ISSUER, None, email="dr.who@example.org"
    )


def test_without_the_key_a_logged_in_reviewer_cannot_record(app, demo_copy) -> None:  # noqa: ANN001
    assert not (demo_copy / "pseudo.key").exists()
    at = app(demo_copy, "views/review.py", login=True, user=user("radqa-reviewer"))
    assert not at.exception
    assert at.error[0].value.startswith(
        "Recording reviews is off: RadQA cannot compute your pseudonym: the pseudonymisation "
        "key is missing from the data directory"
    )  # and without its path: tests/dashboard/test_reviews.py
    assert not at.get("form")
    assert not _reviews.reviews_path(demo_copy).exists()
    greeting = [c.value for c in at.sidebar.caption if c.value.startswith("Logged in")]
    assert greeting == [
        "Logged in (reviewer, viewer), without a pseudonym: no pseudonymisation key here, so no "
        "review can be recorded"
    ]  # not "Logged in as unidentified ...: your pseudonym"


OLD_SCHEMA = """
create table reviews (
    id integer primary key autoincrement, study_uid text not null, finding text not null,
    model_name text not null, category text not null, comment text not null default '',
    reviewer text not null, reviewed_at text not null, snapshot_id text
)
"""


def test_an_older_reviews_file_is_migrated_to_pseudonyms(app, demo_copy, demo_dir, con) -> None:  # noqa: ANN001
    from metrics import discordant_cases

    key = keyed(demo_copy, demo_dir)
    first = discordant_cases(con, kind="both", limit=200).iloc[0]
    old = sqlite3.connect(_reviews.reviews_path(demo_copy))
    old.execute(OLD_SCHEMA)
    case = (first["study_uid"], first["finding"], first["model_name"])
    old.executemany(
        "insert into reviews (study_uid, finding, model_name, category, reviewer, reviewed_at)"
        " values (?, ?, ?, ?, ?, ?)",
        [
            (*case, "AI error", "rita.reviewer@hospital.example", "2026-01-01T00:00:00+00:00"),
            (*case, "technical", "local", "2026-01-02T00:00:00+00:00"),
        ],
    )
    old.commit()
    old.close()
    at = app(demo_copy, "views/review.py", login=True, user=user("radqa-viewer"))
    assert not at.exception
    raw = _reviews.reviews_path(demo_copy).read_bytes()
    assert b"rita" not in raw
    db = sqlite3.connect(_reviews.reviews_path(demo_copy))
    rows = db.execute("select reviewer, model_version, action from reviews order by id").fetchall()
    rita = legacy_pseudonym(key, "rita.reviewer@hospital.example")
    # the case's one model version among the discordant cases is attached to its reviews
    version = first["model_version"]
    assert rows == [(rita, version, "review"), ("local", version, "review")]
    assert db.execute("pragma user_version").fetchone()[0] == _reviews.SCHEMA_VERSION
    assert pseudonym_of(demo_copy, "", legacy="rita.reviewer@hospital.example") == rita
    at.selectbox(key="cr_show").set_value("reviewed").run()
    shown = at.dataframe[0].value
    assert shown[["study_uid", "category", "reviewer"]].values.tolist() == [
        [first["study_uid"], "technical", "local user"]
    ]
    assert "rita" not in shown.to_csv()


def test_an_older_reviews_file_without_the_key_shows_no_identity(app, demo_copy, con) -> None:  # noqa: ANN001
    from metrics import discordant_cases

    first = discordant_cases(con, kind="both", limit=200).iloc[0]
    old = sqlite3.connect(_reviews.reviews_path(demo_copy))
    old.execute(OLD_SCHEMA)
    old.execute(
        "insert into reviews (study_uid, finding, model_name, category, reviewer, reviewed_at)"
        " values (?, ?, ?, 'AI error', 'rita.reviewer@hospital.example', '2026-01-01')",
        (first["study_uid"], first["finding"], first["model_name"]),
    )
    old.commit()
    old.close()
    at = app(demo_copy, "views/review.py")  # the local user: no key needed to review
    at.selectbox(key="cr_show").set_value("all").run()
    assert not at.exception
    assert "rita" not in at.dataframe[0].value.to_csv()
    assert at.dataframe[0].value["category"].isna().all()  # shown only once migrated
    assert "must be replaced by pseudonyms" in at.warning[0].value
    assert "Recording reviews is off" in at.error[0].value
    assert _reviews.shown_reviewer("rita.reviewer@hospital.example", "local") == (
        "(not pseudonymised)"
    )


def test_admin_sees_health_and_download(app, demo_copy) -> None:  # noqa: ANN001
    at = app(demo_copy, "views/health.py", login=True, user=user("radqa-admin"))
    assert not at.exception
    assert at.title[0].value == "Data health"
    assert at.metric[0].label == "Studies"
    open_tab(at.switch_page("views/sites.py").run(), "ss_tab", "Table")
    assert at.get("download_button")


def test_logins_refusals_and_reviews_are_audited(app, demo_copy, demo_dir) -> None:  # noqa: ANN001
    key = keyed(demo_copy, demo_dir)
    pid, pid2 = user_pseudonym(key, ISSUER, SUB), user_pseudonym(key, ISSUER, "x-2")
    at = app(demo_copy, "views/review.py", login=True, user=user("radqa-reviewer"))
    at.run()  # a rerun is no new login
    snapshot_id = _audit.read_events(demo_copy)[0]["snapshot_id"]
    assert snapshot_id and len(snapshot_id) == 16
    shown = at.dataframe[0].value.iloc[0]
    case = {k: shown[k] for k in ("study_uid", "finding", "model_name", "model_version")}
    at.radio(key="cr_category").set_value("AI error")
    at.button(key="cr_submit").click().run()
    other = app(demo_copy, "views/review.py", login=True, user=user("radqa-reviewer", sub="x-2"))
    other.selectbox(key="cr_show").set_value("all").run()
    other.selectbox(key="cr_case").set_value(tuple(case.values())).run()
    other.radio(key="cr_category").set_value("technical")
    other.button(key="cr_submit").click().run()
    other.button(key="cr_withdraw").click().run()
    assert not at.exception and not other.exception
    app(demo_copy, login=True, user=user("staff", sub="x-3"))  # no role
    events = _audit.read_events(demo_copy)
    assert [{k: v for k, v in e.items() if k != "when"} for e in events] == [
        {"who": pid, "what": "login", "snapshot_id": snapshot_id, "roles": "reviewer,viewer"},
        {"who": pid, "what": "review:save", "snapshot_id": snapshot_id, **case,
         "category": "AI error"},
        {"who": pid2, "what": "login", "snapshot_id": snapshot_id, "roles": "reviewer,viewer"},
        {"who": pid2, "what": "review:replace", "snapshot_id": snapshot_id, **case,
         "category": "technical", "replaces": pid, "replaced": "AI error"},
        {"who": pid2, "what": "review:withdraw", "snapshot_id": snapshot_id, **case,
         "withdrawn": "technical"},
        {"who": user_pseudonym(key, ISSUER, "x-3"), "what": "refused:no-role",
         "snapshot_id": snapshot_id, "claim": "groups"},
    ]  # fmt: skip
    assert b"example.org" not in _audit.audit_path(demo_copy).read_bytes()


def test_audit_log_lines(tmp_path: Path) -> None:
    pid = "0123456789abcdef01234567"
    _audit.log_event(tmp_path, who=pid, what="csv:sites-scanners", snapshot_id="abc", n=3)
    _audit.log_event(tmp_path, who="local", what="download:monthly-report", snapshot_id=None)
    events = _audit.read_events(tmp_path)
    assert [(e["who"], e["what"], e["snapshot_id"]) for e in events] == [
        (pid, "csv:sites-scanners", "abc"),
        ("local", "download:monthly-report", None),
    ]
    assert events[0]["n"] == 3 and events[0]["when"].endswith("+00:00")
    assert _audit.events_of(tmp_path, pid) == events[:1]


@pytest.mark.parametrize("who", ["a@x", "Dr Who", "", "0123456789ABCDEF01234567"])
def test_audit_log_refuses_a_raw_identity(tmp_path: Path, who: str) -> None:
    with pytest.raises(ValueError, match="who is not a pseudonym"):
        _audit.log_event(tmp_path, who=who, what="download:x", snapshot_id=None)
    assert _audit.read_events(tmp_path) == []


def test_login_configured_reports_what_is_missing(tmp_path: Path) -> None:
    ok, why = login_configured(tmp_path)
    assert not ok and why == f"{tmp_path}/.streamlit/secrets.toml does not exist"
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('[auth]\nclient_id = "radqa"\n')
    ok, why = login_configured(tmp_path)
    assert why.endswith(
        "[auth] lacks redirect_uri, cookie_secret, client_secret, server_metadata_url"
    )
    (tmp_path / ".streamlit" / "secrets.toml").write_text(AUTH_TOML)
    assert login_configured(tmp_path) == (True, "")


def test_serve_refuses_non_loopback_without_login(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    calls: list[list[str]] = []

    class Execd(Exception):
        """Stands in for the process image being replaced by Streamlit."""

    def fake_execve(path: str, cmd: list[str], env: dict[str, str]) -> None:
        calls.append(cmd)
        raise Execd

    monkeypatch.setattr(serve_mod.os, "execve", fake_execve)
    with pytest.raises(ConfigError) as err:
        serve_mod.serve(tmp_path, host="0.0.0.0", port=8599)
    assert str(err.value).startswith("refusing to listen on 0.0.0.0 without a login: ")
    assert "server_metadata_url" in str(err.value)
    assert "holds radqa-viewer, radqa-reviewer or radqa-admin" in str(err.value)
    assert calls == []
    with pytest.raises(Execd):
        serve_mod.serve(tmp_path, host="127.0.0.1", port=8599)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(AUTH_TOML)
    with pytest.raises(Execd):
        serve_mod.serve(tmp_path, host="0.0.0.0", port=8599)
    assert calls[-1][calls[-1].index("--server.address") + 1] == "0.0.0.0"
    assert calls[-1][1:4] == ["-m", "radqa._streamlit_server", "run"]


def test_server_entry_reads_its_address_and_preloads_only_existing_modules() -> None:
    import importlib.util

    from radqa import _streamlit_server as server

    argv = ["run", "app.py", "--server.address", "127.0.0.2", "--server.port", "8599"]
    assert server._option(argv, "--server.port", "8501") == "8599"
    assert server._option(argv, "--server.address", "x") == "127.0.0.2"
    assert server._option(["run", "app.py", "--server.port"], "--server.port", "8501") == "8501"
    assert all(importlib.util.find_spec(name) for name in server.PRELOAD)
    # nobody listens: it gives up waiting, then imports
    server._preload("127.0.0.1", 1, wait_s=0.05, idle_s=0, settle_s=0)
    assert all(name in sys.modules for name in server.PRELOAD)


def test_a_line_cut_short_does_not_break_the_audit_log(tmp_path: Path) -> None:
    """One line cut short (a full disk, a kill mid-write) made read_events raise
    JSONDecodeError, shown as a traceback on Reports & exports, and the next event was appended
    onto it and lost (a QA re-test)."""
    _audit.log_event(tmp_path, who="local", what="export:a", snapshot_id="s1")
    with _audit.audit_path(tmp_path).open("a") as fh:
        fh.write('{"what": "export:b", "wh')  # cut short
    _audit.log_event(tmp_path, who="local", what="export:c", snapshot_id="s1")
    events = _audit.read_events(tmp_path)
    assert [e["what"] for e in events] == ["export:a", "unreadable", "export:c"]
    assert events[1] == {"what": "unreadable", "line": 2}
    assert [e["what"] for e in _audit.events_of(tmp_path, "local")] == ["export:a", "export:c"]
