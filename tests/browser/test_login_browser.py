"""A full OIDC login and logout in the browser, against a local mock identity provider."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from dashboard import _audit
from dashboard.auth import user_pseudonym
from dashboard.bench import KPI_VALUE, browser_page, goto, wait_rendered
from ingest.pseudonym import load_key
from tests.browser.conftest import free_port

pytestmark = pytest.mark.browser

SECRETS = """
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "radqa-browser-test-cookie-secret"
client_id = "radqa"
client_secret = "radqa-secret"
server_metadata_url = "http://localhost:{idp_port}/.well-known/openid-configuration"

[radqa]
roles_claim = "groups"
"""


@pytest.fixture
def idp():  # noqa: ANN201
    mock = pytest.importorskip("oidc_provider_mock")
    users = [
        mock.User(
            sub="alice@example.org",
            claims={"email": "alice@example.org", "name": "Alice", "groups": ["radqa-reviewer"]},
        )
    ]
    with mock.run_server_in_thread(user_claims=users) as server:
        yield server


def test_login_roles_and_logout(serve, demo_dir, idp, tmp_path, artifacts) -> None:  # noqa: ANN001
    port = free_port()
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        SECRETS.format(port=port, idp_port=idp.server_port)
    )
    data = tmp_path / "data"  # a copy: the login is written to its audit log
    shutil.copytree(demo_dir, data)
    _audit.audit_path(data).unlink(missing_ok=True)  # other tests' downloads from the demo dir
    url = serve(data, cwd=tmp_path, port=port)
    with browser_page() as page:
        goto(page, url, "")
        body = page.inner_text("body")
        assert "Please log in" in body
        assert page.locator(KPI_VALUE).count() == 0
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        page.screenshot(path=artifacts / "login.png")
        page.get_by_role("button", name="Log in").click()
        # the mock provider's consent form: one click on the predefined user
        page.get_by_role("button", name="alice@example.org").click()
        try:
            page.wait_for_selector(KPI_VALUE, timeout=120_000)
        except Exception:
            page.screenshot(path=artifacts / "login-failed.png")
            raise AssertionError(f"no dashboard after login; at {page.url}") from None
        wait_rendered(page)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        # the user is known by a pseudonym of the token's issuer + subject, never by e-mail
        assert "(reviewer, viewer)" in sidebar and "alice@example.org" not in sidebar
        # the real ID token's issuer + subject make the pseudonym in the audit log
        meta = f"http://localhost:{idp.server_port}/.well-known/openid-configuration"
        with urllib.request.urlopen(meta, timeout=10) as r:
            issuer = json.load(r)["issuer"]
        pid = user_pseudonym(load_key(data, create=False), issuer, "alice@example.org")
        logins = [(e["who"], e["what"]) for e in _audit.read_events(data)]
        assert logins == [(pid, "login")]
        assert b"alice" not in _audit.audit_path(data).read_bytes()
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Case review" in nav
        assert "Data health" not in nav and "Reports & exports" not in nav
        page.screenshot(path=artifacts / "logged-in.png")
        page.get_by_role("button", name="Log out").click()
        # Streamlit ends the session at the provider too (RP-initiated logout): confirm there
        page.get_by_role("button", name="End session").click(timeout=60_000)
        page.wait_for_selector("text=Please log in", timeout=120_000)
        wait_rendered(page)
        assert page.locator(KPI_VALUE).count() == 0
        # a fresh visit stays logged out
        goto(page, url, "")
        assert "Please log in" in page.inner_text("body")


def test_a_login_older_than_12_hours_is_refused_and_logging_in_again_rereads_roles(
    serve: Callable[..., str], demo_dir: Path, tmp_path: Path, artifacts: Path
) -> None:
    """The provider issues a token dated 13 hours ago (its ``iat``): the page says so instead
    of showing the dashboard. The provider then demotes the admin to viewer; "Log in again"
    (st.login while logged in) fetches a new token, and the page shows the viewer's pages."""
    mock = pytest.importorskip("oidc_provider_mock")
    sub = "bob@example.org"
    profile = {"email": sub, "name": "Bob"}
    old = int(time.time()) - 13 * 3600  # the provider puts a user's claims over its own iat
    users = [mock.User(sub=sub, claims={**profile, "groups": ["radqa-admin"], "iat": old})]
    port = free_port()
    with mock.run_server_in_thread(user_claims=users) as idp, browser_page() as page:
        base = f"http://localhost:{idp.server_port}"
        (tmp_path / ".streamlit").mkdir()
        (tmp_path / ".streamlit" / "secrets.toml").write_text(
            SECRETS.format(port=port, idp_port=idp.server_port)
        )
        data = tmp_path / "data"
        shutil.copytree(demo_dir, data)
        _audit.audit_path(data).unlink(missing_ok=True)
        url = serve(data, cwd=tmp_path, port=port)
        goto(page, url, "")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name=sub).click()
        try:
            page.wait_for_selector("text=more than 12 hours old", timeout=120_000)
        except Exception:
            page.screenshot(path=artifacts / "login-expired-failed.png")
            raise AssertionError(f"no refusal of the old login; at {page.url}") from None
        wait_rendered(page)
        page.screenshot(path=artifacts / "login-expired.png")
        assert page.locator('[data-testid="stAlertContentWarning"]').inner_text() == (
            "Your login is more than 12 hours old; log in again so that your roles are read "
            "again from your identity provider (localhost)."
        )
        assert page.locator(KPI_VALUE).count() == 0
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        with urllib.request.urlopen(f"{base}/.well-known/openid-configuration", timeout=10) as r:
            issuer = json.load(r)["issuer"]
        pid = user_pseudonym(load_key(data, create=False), issuer, sub)
        events = _audit.read_events(data)
        assert [(e["who"], e["what"]) for e in events] == [(pid, "refused:login-expired")]
        assert events[0]["issued"] == dt.datetime.fromtimestamp(old, dt.UTC).isoformat()
        # the provider's admin demotes Bob; his next token is issued now
        demote = urllib.request.Request(
            f"{base}/users/{sub}",
            data=json.dumps({**profile, "groups": ["radqa-viewer"]}).encode(),
            headers={"Content-Type": "application/json"},
            method="PUT",
        )
        with urllib.request.urlopen(demote, timeout=10) as r:
            assert r.status == 204
        page.get_by_role("button", name="Log in again").click()
        page.get_by_role("button", name=sub).click()
        page.wait_for_selector(KPI_VALUE, timeout=120_000)
        wait_rendered(page)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "(viewer)" in sidebar and "admin" not in sidebar
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Data health" not in nav and "Reports & exports" not in nav
        assert "more than 12 hours old" not in page.inner_text("body")
        page.screenshot(path=artifacts / "login-again.png")
        assert [(e["who"], e["what"]) for e in _audit.read_events(data)] == [
            (pid, "refused:login-expired"),
            (pid, "login"),
        ]
