"""A real `radqa serve` on a free loopback port, for the browser tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.dashboard.conftest import demo_dir, empty_dir  # noqa: F401 - shared fixtures

REPO = Path(__file__).resolve().parents[2]
RADQA = Path(sys.executable).parent / "radqa"
ARTIFACTS = REPO / "tests" / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"radqa serve exited with {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url}/_stcore/health did not answer within {timeout} s")


@pytest.fixture(scope="session", autouse=True)
def chromium() -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's /usr/bin/chromium is not installed (make system)")
    pytest.importorskip("playwright")


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """``serve(data_dir, cwd=None, port=None) -> base URL``; the servers stop after the test.

    ``cwd`` is where ``radqa serve`` runs: Streamlit reads ``.streamlit/secrets.toml`` there.
    """
    procs: list[subprocess.Popen[bytes]] = []

    def start(data_dir: Path, cwd: Path | None = None, port: int | None = None) -> str:
        port = port or free_port()
        proc = subprocess.Popen(
            [str(RADQA), "--data-dir", str(data_dir), "serve", "--port", str(port)],
            cwd=cwd or data_dir,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: `radqa serve` runs streamlit as a child
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        return url

    yield start
    for proc in procs:  # stop radqa serve and the streamlit server it started
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
