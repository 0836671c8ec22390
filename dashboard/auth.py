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
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

REQUIRED = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
ROLES = ("viewer", "reviewer", "admin")
DEFAULT_ROLES_CLAIM = "roles"
LOCAL_USER = "local"


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
#: The words of a claim given as one string: a prefixed value (which may hold a space), else
#: any run of characters up to a space or comma.
_WORD = re.compile(r"/?radqa[-_.:/ ]\w+|[^\s,]+", re.IGNORECASE)
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


@dataclass(frozen=True)
class User:
    """Who is using the dashboard and what they may do."""

    who: str  # e-mail, else name, else subject; 'local' without login
    roles: frozenset[str]
    logged_in: bool

    def can(self, role: str) -> bool:
        return role in self.roles


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
        return User(LOCAL_USER, frozenset(ROLES), logged_in=False)
    info = st.user.to_dict()
    if not info.get("is_logged_in"):
        return User("", frozenset(), logged_in=False)
    who = str(info.get("email") or info.get("name") or info.get("sub") or "unknown")
    return User(who, roles_from_claims(info, roles_claim()), logged_in=True)


def gate() -> User:
    """Show only a login button to anonymous users and stop; return the user otherwise."""
    user = current_user()
    if not login_enabled():
        return user
    if not user.logged_in:
        st.title("RadQA")
        st.write("Clinical validation and drift monitoring of radiology AI. Please log in.")
        st.button("Log in", type="primary", on_click=st.login, key="login")
        st.stop()
    if not user.roles:
        st.title("RadQA")
        st.error(
            f"You are logged in as {user.who}, but your identity provider gave you no RadQA "
            f"role: the '{roles_claim()}' claim should contain viewer, reviewer or admin. "
            "Ask the RadQA administrator for access."
        )
        st.button("Log out", on_click=st.logout, key="logout_norole")
        st.stop()
    return user


def require(user: User, role: str, what: str) -> None:
    """Stop the page with a message unless ``user`` has ``role``."""
    if not user.can(role):
        st.warning(
            f"{what} needs the '{role}' role; you are {user.who} with roles: "
            f"{', '.join(sorted(user.roles)) or 'none'}."
        )
        st.stop()
