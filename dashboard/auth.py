"""Login and roles for the dashboard (OIDC through Streamlit's ``st.login``).

Login is on when the secrets have an ``[auth]`` section (``.streamlit/secrets.toml`` in the folder
``radqa serve`` runs from). Roles come from one claim of the identity provider's ID token, named by
``[radqa] roles_claim`` in the secrets (default ``roles``; Keycloak and Entra can emit a ``roles``
or ``groups`` claim). A claim value names a role with a prefix and a separator (``radqa-admin``,
``RadQA.Admin``, ``radqa_admin``); a bare name (``admin``) only in an app-specific roles claim,
never in one named ``groups``. A claim of another type than a string or a list of strings grants
nothing. Roles are nested: an admin is also a reviewer and a viewer.

- viewer: every page (read-only);
- reviewer: also records case reviews;
- admin: also exports (reports, trial statistics, CSV downloads of tables) and data health.

Without login (the loopback demo) the single local user has every role; ``radqa serve``
refuses to listen beyond loopback unless login is configured (:func:`login_configured`).

Reviewers are radiologists, and RadQA stores, logs and shows no raw reader identifier: a
logged-in user is known to the reviews and the audit log by a pseudonym, the HMAC-SHA256 under
the store's pseudonymisation key of the token's issuer and subject (:func:`user_pseudonym`;
the e-mail only when a token has no subject). An auditor finds one person's entries with
:func:`pseudonym_of`. The user's own name is shown to them only (the sidebar greeting).

Streamlit keeps the token's claims in its login cookie for 30 days, and RadQA keeps no session
of its own, so the roles of a login are the ones the provider gave when it issued the token.
RadQA refuses a login whose token was issued (``iat``) more than ``[radqa] max_login_hours``
ago (default 12, a hospital shift) and offers to log in again, which reads the roles again
from the provider (:func:`login_refusal`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import streamlit as st

from ingest.pseudonym import KEY_ENV, KEY_FILE, keyed_hash, load_key
from radqa.errors import ConfigError

REQUIRED = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
ROLES = ("viewer", "reviewer", "admin")
DEFAULT_ROLES_CLAIM = "roles"
LOCAL_USER = "local"
#: ``User.who`` of a logged-in user whose pseudonym cannot be computed (no key): such a user may
#: read, but records no review.
UNIDENTIFIED = "unidentified"
#: ``[radqa] max_login_hours`` when the secrets do not set it: a hospital shift
DEFAULT_MAX_LOGIN_HOURS = 12
#: how far in the future (seconds, by this server's clock) a token's ``iat`` may lie
CLOCK_SKEW_S = 300
#: what a page says of a key file that is not in the data dir (it names no server path)
KEY_MISSING = (
    "the pseudonymisation key is missing from the data directory; an administrator must restore "
    "it from the backup (the server log and the `radqa` command name the file)"
)
#: ... and of a key that is there but cannot be used (readable by others, too short, ...)
KEY_UNUSABLE = (
    "the pseudonymisation key cannot be used; an administrator must fix it (the server log and "
    "the `radqa` command say why)"
)
_log = logging.getLogger(__name__)
_logged: set[str] = set()


def key_problem(data_dir: Path, exc: ConfigError) -> str:
    """What a page may say when :func:`load_key` refused the key with ``exc``: whether the key
    file is missing, without its path (a page is seen by every viewer, and screenshots travel).
    ``exc``, with the path, goes to the server's log, once per process (not on every rerun)."""
    if str(exc) not in _logged:
        _logged.add(str(exc))
        _log.warning("RadQA dashboard: %s", exc)
    missing = os.environb.get(KEY_ENV.encode()) is None and not (Path(data_dir) / KEY_FILE).exists()
    return KEY_MISSING if missing else KEY_UNUSABLE


def login_configured(root: Path) -> tuple[bool, str]:
    """Whether ``root/.streamlit/secrets.toml`` has a complete ``[auth]`` section.

    Returns ``(True, "")`` or ``(False, what is missing)``.
    """
    path = root / ".streamlit" / "secrets.toml"
    if not path.exists():
        return False, f"{path} does not exist"
    try:
        auth = tomllib.loads(path.read_text()).get("auth", {})
    except tomllib.TOMLDecodeError as exc:
        return False, f"{path} is not valid TOML ({exc})"
    missing = [k for k in REQUIRED if not auth.get(k)]
    if missing:
        return False, f"{path} [auth] lacks {', '.join(missing)}"
    url = str(auth["server_metadata_url"])
    if not url.startswith(("https://", "http://")):
        return False, (
            f"{path} [auth] server_metadata_url is {url!r}; expected the provider's "
            "https://.../.well-known/openid-configuration URL"
        )
    return True, ""


#: A prefixed role value: "radqa", one separator, a role name (RadQA.Admin, radqa-reviewer,
#: radqa_admin, radqa:admin, "radqa admin", /radqa/admin). "radqaadmin" is not one.
_PREFIXED = re.compile(r"/?radqa[-_.:/ ](\w+)", re.IGNORECASE)
#: The words of a claim given as one string: a prefixed value (which may hold a space) that
#: ends at a space, a comma or the end ("radqa-admin-requested" is not "radqa-admin"), else any
#: run of characters up to a space or comma.
_WORD = re.compile(r"/?radqa[-_.:/ ]\w+(?=[\s,]|$)|[^\s,]+", re.IGNORECASE)
#: The claim name of generic group lists: bare role names there are other systems' groups.
GROUPS_CLAIM = "groups"


def roles_from_claims(
    claims: Mapping[str, Any], claim: str = DEFAULT_ROLES_CLAIM
) -> frozenset[str]:
    """The RadQA roles a user's claims grant, with the roles each implies.

    ``claim`` holds a string (values separated by spaces or commas) or a list of strings; any
    other type (a dict, a boolean, a number), and any non-string item of a list, grants nothing.
    A value names a role with the prefix ``radqa`` and one separator (``radqa-admin``,
    ``RadQA.Admin``, ``radqa_admin``, ``radqa:admin``, ``radqa admin``, ``/radqa/admin``).
    A bare role name (``admin``) counts only in an app-specific roles claim, not in one named
    ``groups``: a group called "Admin" belongs to some other system.

    >>> sorted(roles_from_claims({"roles": ["radqa-reviewer", "other"]}))
    ['reviewer', 'viewer']
    >>> sorted(roles_from_claims({"groups": "RadQA.Admin"}, "groups"))
    ['admin', 'reviewer', 'viewer']
    >>> sorted(roles_from_claims({"groups": ["Admin", "radqaadmin"]}, "groups"))
    []
    >>> sorted(roles_from_claims({"groups": "radqa-viewer radqa-admin-requested"}, "groups"))
    ['viewer']
    """
    raw = claims.get(claim)
    if isinstance(raw, str):
        values = _WORD.findall(raw)
    elif isinstance(raw, list | tuple):
        values = [v for v in raw if isinstance(v, str)]
    else:  # missing, or a dict, boolean, number: no role (the gate then refuses the user)
        return frozenset()
    bare_allowed = bare_names_count(claim)
    granted: set[str] = set()
    for value in values:
        value = value.strip().lower()
        prefixed = _PREFIXED.fullmatch(value)
        name = prefixed.group(1) if prefixed else (value if bare_allowed else "")
        if name in ROLES:
            granted.update(ROLES[: ROLES.index(name) + 1])
    return frozenset(granted)


def bare_names_count(claim: str) -> bool:
    """Whether a bare role name (``admin``) counts in the claim named ``claim``: only in an
    app-specific roles claim, never in one named ``groups`` (any case)."""
    return claim.lower() != GROUPS_CLAIM


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def no_role_message(claims: Mapping[str, Any], claim: str = DEFAULT_ROLES_CLAIM) -> str:
    """What the gate tells a logged-in user whose ``claims`` grant no role: which values of the
    claim named ``claim`` would, and what the claim holds instead. It names no user (a page is
    screenshotted) and shows none of the claim's values (other systems' group names).

    >>> no_role_message({"groups": ["staff"]}, "groups")  # doctest: +NORMALIZE_WHITESPACE
    "Your identity provider gave you no RadQA role: your login's 'groups' claim holds none of
    radqa-viewer, radqa-reviewer or radqa-admin (a bare viewer, reviewer or admin does not count
    in a claim named 'groups', where it is some other system's group). Ask the RadQA
    administrator for access."
    """
    accepted = [f"radqa-{role}" for role in ROLES]
    if bare_names_count(claim):
        accepted += list(ROLES)
    forms = f"{', '.join(accepted[:-1])} or {accepted[-1]}"
    raw = claims.get(claim)
    if raw is None:
        found = f"your login has no '{claim}' claim; it should hold {forms}"
    elif isinstance(raw, str | list | tuple):
        found = f"your login's '{claim}' claim holds none of {forms}"
    else:
        found = (
            f"your login's '{claim}' claim is {_kind(raw)}, not a string or a list of strings, "
            f"so it grants no role; it should hold {forms}"
        )
    if not bare_names_count(claim):
        found += (
            f" (a bare {', '.join(ROLES[:-1])} or {ROLES[-1]} does not count in a claim named "
            f"'{claim}', where it is some other system's group)"
        )
    return (
        f"Your identity provider gave you no RadQA role: {found}. Ask the RadQA administrator "
        "for access."
    )


def user_pseudonym(
    key: bytes, issuer: str, sub: str | None = None, *, email: str | None = None
) -> str:
    """A user's pseudonym: HMAC-SHA256 under ``key`` of the ID token's issuer and subject.

    The subject is the provider's stable id of the user; the e-mail (lower-cased) stands in
    only when a token has no subject. The issuer keeps two providers' subjects apart.
    """
    if sub:
        return keyed_hash(key, f"oidc|{issuer}|sub|{sub}")
    if email:
        return keyed_hash(key, f"oidc|{issuer}|email|{email.strip().lower()}")
    raise ValueError("a user pseudonym needs the token's subject (sub) or e-mail")


def legacy_pseudonym(key: bytes, raw: str) -> str:
    """The pseudonym that replaced a raw identity (e-mail, else name, else subject) kept by
    RadQA before reviewers were pseudonymised, when an old reviews.sqlite was migrated."""
    return keyed_hash(key, f"legacy|{raw}")


def pseudonym_of(
    data_dir: Path,
    issuer: str,
    sub: str | None = None,
    *,
    email: str | None = None,
    legacy: str | None = None,
) -> str:
    """For an auditor: the pseudonym under which reviews.sqlite and audit.log know a user.

    ``issuer`` and ``sub`` are the ``iss`` and ``sub`` claims of the user's ID token (the
    identity provider's admin console shows them); ``legacy``: the e-mail (or name) that
    RadQA stored before pseudonymisation, for the entries migrated from then.
    """
    key = load_key(Path(data_dir), create=False)
    if legacy is not None:
        return legacy_pseudonym(key, legacy)
    return user_pseudonym(key, issuer, sub, email=email)


@dataclass(frozen=True)
class User:
    """Who is using the dashboard and what they may do."""

    #: the pseudonym kept in reviews and the audit log ('local' without login, '' when
    #: logged out, :data:`UNIDENTIFIED` when no pseudonym can be computed); a login refused
    #: as too old keeps its pseudonym, for the audit log
    who: str
    roles: frozenset[str]
    logged_in: bool
    #: how the user is greeted (their own name or e-mail); shown to them only, never stored
    name: str = ""
    #: why ``who`` is :data:`UNIDENTIFIED`
    problem: str | None = None
    #: why RadQA refuses the login Streamlit holds (:func:`login_refusal`); such a user has
    #: no role and is not logged in for RadQA
    refused: str | None = None

    def can(self, role: str) -> bool:
        return role in self.roles

    @property
    def identified(self) -> bool:
        """Whether the user has a pseudonym (or is the local user) to record reviews under."""
        return bool(self.who) and self.who != UNIDENTIFIED


def _secrets_section(name: str) -> Mapping[str, Any]:
    try:
        return st.secrets.get(name, {})
    except Exception:  # no secrets file at all
        return {}


def login_enabled() -> bool:
    return bool(_secrets_section("auth"))


def roles_claim() -> str:
    return str(_secrets_section("radqa").get("roles_claim", DEFAULT_ROLES_CLAIM))


def max_login_hours() -> float:
    """``[radqa] max_login_hours`` of the secrets: how old a login may be (default 12).

    ConfigError unless it is a positive number (an integer or a float); there is no "off".
    """
    raw = _secrets_section("radqa").get("max_login_hours", DEFAULT_MAX_LOGIN_HOURS)
    # not bool (an int), not a string, not 0, negative, inf or nan
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw < math.inf:
        raise ConfigError(
            f".streamlit/secrets.toml: [radqa] max_login_hours is {raw!r}; expected a positive "
            f"number of hours, such as {DEFAULT_MAX_LOGIN_HOURS} (720 keeps a login for the 30 "
            "days of Streamlit's login cookie). Nobody can log in until it is fixed."
        )
    return float(raw)


def _hours(hours: float) -> str:
    return f"{hours:.10g} hour" + ("" if hours == 1 else "s")


def issued_at(claims: Mapping[str, Any]) -> float | None:
    """When the provider issued the token (its ``iat``, else ``auth_time``), in seconds since
    the epoch; None when the claims have neither as a number.

    ``iat`` comes first: it is when the provider read the user's roles. ``auth_time`` (when the
    user last typed a password) stays the same across a provider's single sign-on session, so
    a new token issued in that session would be refused again and again. It stands in only for
    a token without ``iat`` (and is never later than the ``iat`` it stands in for).
    """
    for name in ("iat", "auth_time"):
        value = claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def login_refusal(
    claims: Mapping[str, Any], max_hours: float, now: float | None = None
) -> str | None:
    """Why RadQA refuses a login whose token has ``claims``, or None when it accepts it.

    Refused: a token issued more than ``max_hours`` before ``now`` (seconds since the epoch;
    default the current time), one with no usable ``iat`` nor ``auth_time`` (it cannot be
    dated: fail closed), and one dated more than :data:`CLOCK_SKEW_S` after ``now``.
    """
    now = time.time() if now is None else now
    host = urlsplit(str(claims.get("iss") or "")).hostname
    provider = f"your identity provider ({host})" if host else "your identity provider"
    again = f"log in again so that your roles are read again from {provider}"
    issued = issued_at(claims)
    if issued is None:
        return (
            "Your login cannot be dated: your identity provider's token has no 'iat' (issued "
            f"at) nor 'auth_time' claim, so RadQA treats it as more than "
            f"{_hours(max_hours)} old. Please {again}; if this message comes back, ask the "
            "RadQA administrator."
        )
    if issued > now + CLOCK_SKEW_S:
        ahead = math.ceil((issued - now) / 60)
        return (
            f"Your login's token is dated {ahead} minutes ahead of this server's clock (RadQA "
            f"allows {CLOCK_SKEW_S // 60}). Please {again}; if this message comes back, the "
            "clocks of this server and of the identity provider disagree: ask the RadQA "
            "administrator."
        )
    if now - issued > max_hours * 3600:
        return f"Your login is more than {_hours(max_hours)} old; {again}."
    return None


def current_user() -> User:
    """The user of this session (the local admin when login is off).

    A login whose token is too old (:func:`login_refusal`) is returned with no role, not
    logged in, and the reason in ``refused``. ConfigError when ``[radqa] max_login_hours`` is
    not a positive number (:func:`max_login_hours`).
    """
    if not login_enabled():
        return User(LOCAL_USER, frozenset(ROLES), logged_in=False, name=LOCAL_USER)
    max_hours = max_login_hours()
    info = st.user.to_dict()
    if not info.get("is_logged_in"):
        return User("", frozenset(), logged_in=False)
    name = str(info.get("name") or info.get("email") or "you")
    roles = roles_from_claims(info, roles_claim())
    from dashboard._state import data_dir  # on use: _state loads the metrics modules

    problem = None
    try:
        key = load_key(data_dir(), create=False)
        who = user_pseudonym(
            key,
            str(info.get("iss") or ""),
            str(info.get("sub") or "") or None,
            email=str(info.get("email") or "") or None,
        )
    except ConfigError as exc:
        who = UNIDENTIFIED
        problem = f"RadQA cannot compute your pseudonym: {key_problem(data_dir(), exc)}"
    except ValueError:
        who = UNIDENTIFIED
        problem = "your identity provider's token has no subject ('sub') and no e-mail"
    refused = login_refusal(info, max_hours)
    if refused:
        return User(who, frozenset(), logged_in=False, name=name, refused=refused)
    return User(who, roles, logged_in=True, name=name, problem=problem)


def _audit_once(user: User, what: str, **details: Any) -> None:
    """Write ``what`` to the audit log once per session and user (not on every rerun)."""
    from dashboard import _audit, _state  # on use: _state loads the metrics modules
    from radqa.errors import RadQAError

    done: set[tuple[str, str]] = st.session_state.setdefault("_radqa_audited", set())
    if (what, user.who) in done:
        return
    done.add((what, user.who))
    try:
        snapshot_id = _state.snapshot().snapshot_id
    except RadQAError:  # no snapshot published yet
        snapshot_id = None
    _audit.log_event(_state.data_dir(), who=user.who, what=what, snapshot_id=snapshot_id, **details)


def gate() -> User:
    """Show only a login button to anonymous users and stop; return the user otherwise.

    The audit log gets a 'login' event once per session of a logged-in user (Streamlit's
    login callback is not RadQA's, so this is the first page load after it, and every new
    tab), a 'refused:no-role' event for a user without a RadQA role, and a
    'refused:login-expired' event for a login older than ``[radqa] max_login_hours``. This
    runs on every rerun, so a tab left open is refused at its first interaction after that.
    """
    try:
        user = current_user()
    except ConfigError as exc:  # a bad [radqa] max_login_hours: nobody gets in
        st.title("RadQA")
        st.error(str(exc))
        st.stop()
    if not login_enabled():
        return user
    if user.refused:
        issued = issued_at(st.user.to_dict())
        _audit_once(
            user,
            "refused:login-expired",
            issued=None
            if issued is None
            else dt.datetime.fromtimestamp(issued, dt.UTC).isoformat(timespec="seconds"),
            max_login_hours=max_login_hours(),
        )
        st.title("RadQA")
        st.warning(user.refused)
        # st.login works while logged in: Streamlit sends the browser to the provider and the
        # callback replaces the login cookie (no logout, which would end the provider's
        # session for the hospital's other applications too)
        st.button("Log in again", type="primary", on_click=st.login, key="login_again")
        st.stop()
    if not user.logged_in:
        st.title("RadQA")
        st.write("Clinical validation and drift monitoring of radiology AI. Please log in.")
        st.button("Log in", type="primary", on_click=st.login, key="login")
        st.stop()
    if not user.roles:
        _audit_once(user, "refused:no-role", claim=roles_claim())
        st.title("RadQA")
        st.error(no_role_message(st.user.to_dict(), roles_claim()))
        st.button("Log out", on_click=st.logout, key="logout_norole")
        st.stop()
    _audit_once(user, "login", roles=",".join(sorted(user.roles)))
    return user


def require(user: User, role: str, what: str) -> None:
    """Stop the page with a message unless ``user`` has ``role`` (audited as
    'refused:<role>')."""
    if not user.can(role):
        _audit_once(user, f"refused:{role}", page=what)
        st.warning(
            f"{what} needs the '{role}' role; your roles: "
            f"{', '.join(sorted(user.roles)) or 'none'}."
        )
        st.stop()
