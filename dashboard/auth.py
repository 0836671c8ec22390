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
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from ingest.pseudonym import KEY_ENV, KEY_FILE, load_key, pseudonymise
from radqa.errors import ConfigError

REQUIRED = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
ROLES = ("viewer", "reviewer", "admin")
DEFAULT_ROLES_CLAIM = "roles"
LOCAL_USER = "local"
#: ``User.who`` of a logged-in user whose pseudonym cannot be computed (no key): such a user may
#: read, but records no review.
UNIDENTIFIED = "unidentified"
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
    bare_allowed = claim.lower() != GROUPS_CLAIM
    granted: set[str] = set()
    for value in values:
        value = value.strip().lower()
        prefixed = _PREFIXED.fullmatch(value)
        name = prefixed.group(1) if prefixed else (value if bare_allowed else "")
        if name in ROLES:
            granted.update(ROLES[: ROLES.index(name) + 1])
    return frozenset(granted)


def user_pseudonym(
    key: bytes, issuer: str, sub: str | None = None, *, email: str | None = None
) -> str:
    """A user's pseudonym: HMAC-SHA256 under ``key`` of the ID token's issuer and subject.

    The subject is the provider's stable id of the user; the e-mail (lower-cased) stands in
    only when a token has no subject. The issuer keeps two providers' subjects apart.
    """
    if sub:
        return pseudonymise(key, f"oidc|{issuer}|sub|{sub}")
    if email:
        return pseudonymise(key, f"oidc|{issuer}|email|{email.strip().lower()}")
    raise ValueError("a user pseudonym needs the token's subject (sub) or e-mail")


def legacy_pseudonym(key: bytes, raw: str) -> str:
    """The pseudonym that replaced a raw identity (e-mail, else name, else subject) kept by
    RadQA before reviewers were pseudonymised, when an old reviews.sqlite was migrated."""
    return pseudonymise(key, f"legacy|{raw}")


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
    #: logged out, :data:`UNIDENTIFIED` when no pseudonym can be computed)
    who: str
    roles: frozenset[str]
    logged_in: bool
    #: how the user is greeted (their own name or e-mail); shown to them only, never stored
    name: str = ""
    #: why ``who`` is :data:`UNIDENTIFIED`
    problem: str | None = None

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


def current_user() -> User:
    """The user of this session (the local admin when login is off)."""
    if not login_enabled():
        return User(LOCAL_USER, frozenset(ROLES), logged_in=False, name=LOCAL_USER)
    info = st.user.to_dict()
    if not info.get("is_logged_in"):
        return User("", frozenset(), logged_in=False)
    name = str(info.get("name") or info.get("email") or "you")
    roles = roles_from_claims(info, roles_claim())
    from dashboard._state import data_dir  # on use: _state loads the metrics modules

    try:
        key = load_key(data_dir(), create=False)
        who = user_pseudonym(
            key,
            str(info.get("iss") or ""),
            str(info.get("sub") or "") or None,
            email=str(info.get("email") or "") or None,
        )
    except ConfigError as exc:
        problem = f"RadQA cannot compute your pseudonym: {key_problem(data_dir(), exc)}"
        return User(UNIDENTIFIED, roles, logged_in=True, name=name, problem=problem)
    except ValueError:
        problem = "your identity provider's token has no subject ('sub') and no e-mail"
        return User(UNIDENTIFIED, roles, logged_in=True, name=name, problem=problem)
    return User(who, roles, logged_in=True, name=name)


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
    tab), and a 'refused:no-role' event for a user without a RadQA role.
    """
    user = current_user()
    if not login_enabled():
        return user
    if not user.logged_in:
        st.title("RadQA")
        st.write("Clinical validation and drift monitoring of radiology AI. Please log in.")
        st.button("Log in", type="primary", on_click=st.login, key="login")
        st.stop()
    if not user.roles:
        _audit_once(user, "refused:no-role", claim=roles_claim())
        st.title("RadQA")
        st.error(
            f"You are logged in as {user.name}, but your identity provider gave you no RadQA "
            f"role: the '{roles_claim()}' claim should contain viewer, reviewer or admin. "
            "Ask the RadQA administrator for access."
        )
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
            f"{what} needs the '{role}' role; you are {user.name} with roles: "
            f"{', '.join(sorted(user.roles)) or 'none'}."
        )
        st.stop()
