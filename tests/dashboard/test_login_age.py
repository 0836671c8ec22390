"""A login older than ``[radqa] max_login_hours`` (default 12) is refused, so that logging in
again reads the user's roles again from the identity provider (README, Login)."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import _audit, auth
from dashboard.auth import login_refusal, max_login_hours, user_pseudonym
from ingest.pseudonym import load_key
from radqa.errors import ConfigError

from .conftest import kpi_tiles

Run = Callable[..., AppTest]
ISSUER = "https://idp.example.org/realms/hospital"
SUB = "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
NOW = 1_795_000_000.0  # 2026-11-18, for the tests that pass the time
HOUR = 3600
AGAIN = (
    "log in again so that your roles are read again from your identity provider (idp.example.org)"
)
TOO_OLD = f"Your login is more than 12 hours old; {AGAIN}."
UNDATED = (
    "Your login cannot be dated: your identity provider's token has no 'iat' (issued at) nor "
    f"'auth_time' claim, so RadQA treats it as more than 12 hours old. Please {AGAIN}; if this "
    "message comes back, ask the RadQA administrator."
)


def claims(**extra: Any) -> dict[str, Any]:
    """The claims of a logged-in reviewer (``st.user``), with ``extra`` (None drops a claim)."""
    base = {
        "is_logged_in": True,
        "iss": ISSUER,
        "sub": SUB,
        "email": "dr.who@example.org",
        "name": "Dr Who",
        "groups": ["radqa-reviewer"],
    }
    return {k: v for k, v in {**base, **extra}.items() if v is not None}


def bad_setting(value: object) -> str:
    return (
        f".streamlit/secrets.toml: [radqa] max_login_hours is {value!r}; expected a positive "
        "number of hours, such as 12 (720 keeps a login for the 30 days of Streamlit's login "
        "cookie). Nobody can log in until it is fixed."
    )


# --- the rule, at a given time -------------------------------------------------------------


@pytest.mark.parametrize(
    ("age_s", "refused"),
    [(60, False), (12 * HOUR - 60, False), (12 * HOUR, False), (12 * HOUR + 60, True)],
)
def test_a_login_is_refused_once_older_than_12_hours(age_s: int, refused: bool) -> None:
    assert login_refusal(claims(iat=NOW - age_s), 12, NOW) == (TOO_OLD if refused else None)


def test_a_custom_limit_is_said_in_the_message() -> None:
    assert login_refusal(claims(iat=NOW - 1.5 * HOUR + 60), 1.5, NOW) is None
    assert login_refusal(claims(iat=NOW - 1.5 * HOUR - 60), 1.5, NOW) == (
        f"Your login is more than 1.5 hours old; {AGAIN}."
    )
    assert login_refusal(claims(iat=NOW - 2 * HOUR), 1, NOW) == (
        f"Your login is more than 1 hour old; {AGAIN}."
    )
    assert login_refusal(claims(iat=NOW - 25 * HOUR), 24, NOW) is not None
    assert login_refusal(claims(iat=NOW - 23 * HOUR), 24, NOW) is None


def test_a_token_without_iat_nor_auth_time_is_refused() -> None:
    """Fail closed: a login that cannot be dated counts as too old."""
    assert login_refusal(claims(), 12, NOW) == UNDATED
    # a claim that is not a number cannot date the login either
    for iat in ("1795000000", True, [NOW], math.nan):
        assert login_refusal(claims(iat=iat), 12, NOW) == UNDATED


def test_iat_dates_the_login_and_auth_time_only_stands_in_for_it() -> None:
    """A token the provider issued a minute ago in a single sign-on session that began 13 hours
    ago carries the roles of a minute ago: not refused (refusing it would refuse every new
    login until that session ends)."""
    assert login_refusal(claims(iat=NOW - 60, auth_time=NOW - 13 * HOUR), 12, NOW) is None
    assert login_refusal(claims(auth_time=NOW - 60), 12, NOW) is None
    assert login_refusal(claims(auth_time=NOW - 13 * HOUR), 12, NOW) == TOO_OLD


def test_a_token_dated_in_the_future_is_allowed_five_minutes() -> None:
    assert login_refusal(claims(iat=NOW + 299), 12, NOW) is None
    assert login_refusal(claims(iat=NOW + 300), 12, NOW) is None
    assert login_refusal(claims(iat=NOW + 301), 12, NOW) == (
        "Your login's token is dated 6 minutes ahead of this server's clock (RadQA allows 5). "
        f"Please {AGAIN}; if this message comes back, the clocks of this server and of the "
        "identity provider disagree: ask the RadQA administrator."
    )
    assert login_refusal(claims(iat=NOW + 2 * HOUR), 12, NOW) is not None


def test_the_provider_is_named_by_its_host_when_the_token_has_an_issuer() -> None:
    assert login_refusal(claims(iss=None, iat=NOW - 13 * HOUR), 12, NOW) == (
        "Your login is more than 12 hours old; log in again so that your roles are read again "
        "from your identity provider."
    )


@pytest.mark.parametrize(("value", "hours"), [(None, 12.0), (12, 12.0), (0.5, 0.5), (720, 720.0)])
def test_max_login_hours_setting(
    monkeypatch: pytest.MonkeyPatch, value: float | None, hours: float
) -> None:
    section = {"roles_claim": "groups"} | ({} if value is None else {"max_login_hours": value})
    monkeypatch.setattr(auth, "_secrets_section", lambda name: section if name == "radqa" else {})
    assert max_login_hours() == hours


@pytest.mark.parametrize("value", [0, -1, 0.0, "12", "12h", True, math.inf, math.nan, [12]])
def test_a_bad_max_login_hours_is_refused(monkeypatch: pytest.MonkeyPatch, value: object) -> None:
    """There is no "off": 0 is a bad value like the others (720 is the cookie's whole life)."""
    section = {"max_login_hours": value}
    monkeypatch.setattr(auth, "_secrets_section", lambda name: section if name == "radqa" else {})
    with pytest.raises(ConfigError) as err:
        max_login_hours()
    assert str(err.value) == bad_setting(value)


# --- the page ------------------------------------------------------------------------------


@pytest.fixture
def run(app) -> Run:  # noqa: ANN001
    """``run(data_dir, user, **radqa)``: a run AppTest of the dashboard with login on and
    ``radqa`` added to the ``[radqa]`` secrets."""
    return lambda data_dir, user, **radqa: app(data_dir, login=True, user=user, radqa=radqa)


def refused_with(at: AppTest, message: str) -> bool:
    """Whether ``at`` shows only ``message`` and the button that logs in again."""
    assert not at.exception
    return (
        [w.value for w in at.warning] == [message]
        and [b.label for b in at.button] == ["Log in again"]
        and not kpi_tiles(at)
        and not at.sidebar.caption
        and not at.dataframe
    )


def pseudonym(data_dir: Path, demo_dir: Path) -> str:
    shutil.copy(demo_dir / "pseudo.key", data_dir / "pseudo.key")
    return user_pseudonym(load_key(data_dir, create=False), ISSUER, SUB)


def iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).isoformat(timespec="seconds")


def test_an_old_login_sees_the_message_instead_of_the_dashboard(
    run: Run, demo_copy: Path, demo_dir: Path
) -> None:
    pid = pseudonym(demo_copy, demo_dir)
    issued = int(time.time()) - 12 * HOUR - 60
    at = run(demo_copy, claims(iat=issued))
    assert refused_with(at, TOO_OLD)
    at.run()  # a rerun: the message again, no second audit event
    assert refused_with(at, TOO_OLD)
    events = [{k: v for k, v in e.items() if k != "when"} for e in _audit.read_events(demo_copy)]
    snapshot_id = events[0]["snapshot_id"]
    assert snapshot_id and len(snapshot_id) == 16
    assert events == [
        {"who": pid, "what": "refused:login-expired", "snapshot_id": snapshot_id,
         "issued": iso(issued), "max_login_hours": 12.0},
    ]  # fmt: skip
    # a login a minute younger than the limit gets the dashboard
    fresh = run(demo_copy, claims(iat=int(time.time()) - 12 * HOUR + 60))
    assert not fresh.exception and not fresh.warning and len(kpi_tiles(fresh)) == 60
    assert [e["what"] for e in _audit.read_events(demo_copy)] == ["refused:login-expired", "login"]


def test_an_open_tab_is_refused_at_its_next_rerun_once_the_limit_passes(
    run: Run, demo_copy: Path, demo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pseudonym(demo_copy, demo_dir)
    issued = int(time.time()) - 11 * HOUR
    at = run(demo_copy, claims(iat=issued))
    assert len(kpi_tiles(at)) == 60
    # two hours later the same session (the same claims: Streamlit reads the cookie once per
    # session) reruns, as on any click
    later = time.time() + 2 * HOUR
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: later))
    at.run()
    assert refused_with(at, TOO_OLD)
    assert [e["what"] for e in _audit.read_events(demo_copy)] == ["login", "refused:login-expired"]


def test_a_token_without_iat_is_refused_on_the_page(
    run: Run, demo_copy: Path, demo_dir: Path
) -> None:
    pid = pseudonym(demo_copy, demo_dir)
    at = run(demo_copy, claims())
    assert refused_with(at, UNDATED)
    (event,) = _audit.read_events(demo_copy)
    assert (event["who"], event["what"], event["issued"]) == (pid, "refused:login-expired", None)


def test_a_token_dated_beyond_the_clock_skew_is_refused_on_the_page(
    run: Run, demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RADQA_PSEUDO_KEY", raising=False)  # no key: the user is 'unidentified'
    at = run(demo_copy, claims(iat=int(time.time()) + 10 * 60))
    assert not at.exception
    assert at.warning[0].value.startswith("Your login's token is dated 10 minutes ahead")
    assert refused_with(at, at.warning[0].value)
    # without the key the refusal is audited as 'unidentified'
    assert [(e["who"], e["what"]) for e in _audit.read_events(demo_copy)] == [
        ("unidentified", "refused:login-expired")
    ]


def test_a_custom_max_login_hours_on_the_page(run: Run, demo_copy: Path) -> None:
    now = int(time.time())
    at = run(demo_copy, claims(iat=now - 2 * HOUR), max_login_hours=1.5)
    assert refused_with(at, f"Your login is more than 1.5 hours old; {AGAIN}.")
    assert _audit.read_events(demo_copy)[0]["max_login_hours"] == 1.5
    at = run(demo_copy, claims(iat=now - HOUR), max_login_hours=1.5)
    assert not at.exception and not at.warning and len(kpi_tiles(at)) == 60
    # 13 hours is within a 24-hour limit
    at = run(demo_copy, claims(iat=now - 13 * HOUR), max_login_hours=24)
    assert not at.warning and len(kpi_tiles(at)) == 60


@pytest.mark.parametrize("value", ["12h", 0, -2.5])
def test_a_bad_max_login_hours_is_one_line_on_the_page(
    run: Run, demo_copy: Path, value: object
) -> None:
    """Not a traceback, and nobody gets in: neither a recent login nor a login button."""
    for user in (claims(iat=int(time.time())), {"is_logged_in": False}):
        at = run(demo_copy, user, max_login_hours=value)
        assert not at.exception
        assert [e.value for e in at.error] == [bad_setting(value)]
        assert not at.button and not kpi_tiles(at) and not at.sidebar.caption
