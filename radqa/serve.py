"""`radqa serve`: start the Streamlit dashboard, refusing to listen beyond loopback without login."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path
from typing import NoReturn

from radqa import store
from radqa.errors import ConfigError

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_port_free(host: str, port: int) -> None:
    """ConfigError when ``host:port`` is taken (a dashboard already running there, say):
    Streamlit would print its own message and exit 1, the code of a quarantined row."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Tornado binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} (is a dashboard already "
                "running there? stop it, or choose another --port)"
            ) from exc


def serve(data_dir: Path, *, host: str = "127.0.0.1", port: int = 8501) -> NoReturn:
    store.dashboard_memory()  # ConfigError (one line, exit 2) before the server starts
    if not is_loopback(host):
        from dashboard.auth import login_configured

        ok, why = login_configured(Path.cwd())
        if not ok:
            raise ConfigError(
                f"refusing to listen on {host} without a login: {why}. Configure OIDC in "
                ".streamlit/secrets.toml in the folder `radqa serve` runs from: [auth] "
                'redirect_uri = "https://<this host>/oauth2callback", cookie_secret (a long '
                "random string), client_id, client_secret, server_metadata_url = "
                '"https://<provider>/.well-known/openid-configuration"; and [radqa] roles_claim '
                '(default "roles"), the ID-token claim that holds radqa-viewer, radqa-reviewer '
                "or radqa-admin (a bare viewer / reviewer / admin counts in an app-specific claim "
                "only, never in one named groups). "
                "Or listen on 127.0.0.1."
            )
    _check_port_free(host, port)
    env = {**os.environ, "RADQA_DATA_DIR": str(Path(data_dir).resolve())}
    cmd = [
        sys.executable,
        "-m",
        "radqa._streamlit_server",  # `streamlit run`, with the first page's imports preloaded
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        # no "Download as CSV" / copy on tables: it cannot be limited to admins nor audited;
        # admins download through dashboard/_downloads.py
        "--client.disableDataExport",
        "true",
        # as dashboard/.streamlit/config.toml says, also where that file is not beside the app
        "--runner.magicEnabled",
        "false",
    ]
    print(f"RadQA dashboard on http://{host}:{port} (data: {data_dir})", flush=True)
    # Become the Streamlit server (same pid): a signal to `radqa serve` reaches the server, and
    # stopping it leaves no orphan behind.
    os.execve(sys.executable, cmd, env)
