"""Login configuration checks for the dashboard (OIDC through Streamlit's st.login)."""

from __future__ import annotations

import tomllib
from pathlib import Path

REQUIRED = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")


def login_configured(root: Path) -> tuple[bool, str]:
    """Whether .streamlit/secrets.toml under ``root`` has a complete [auth] section."""
    path = root / ".streamlit" / "secrets.toml"
    if not path.exists():
        return False, f"{path} does not exist"
    auth = tomllib.loads(path.read_text()).get("auth", {})
    missing = [k for k in REQUIRED if not auth.get(k)]
    if missing:
        return False, f"{path} [auth] lacks {', '.join(missing)}"
    return True, ""
