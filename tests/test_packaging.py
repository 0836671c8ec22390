"""pyproject.toml lists every folder of the five packages, with its SQL and template files: a
folder left out made setuptools print four "Package would be ignored" warnings at each install
(a tester), and a wheel built from it would lack the files."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ("radqa", "ingest", "metrics", "reports", "dashboard")


def _folders() -> set[str]:
    found = set()
    for top in TOP:
        for folder in [ROOT / top, *(ROOT / top).rglob("*")]:
            importable = folder.name.isidentifier()  # not __pycache__ or .streamlit
            if folder.is_dir() and importable and folder.name != "__pycache__":
                found.add(".".join(folder.relative_to(ROOT).parts))
    return found


def test_every_package_folder_is_listed_with_its_data_files() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = set(config["packages"])
    assert packages == _folders()
    data = config["package-data"]
    for package in packages:
        folder = ROOT.joinpath(*package.split("."))
        files = {p.name for p in folder.iterdir() if p.is_file() and p.suffix != ".py"}
        listed = {p.name for pattern in data.get(package, []) for p in folder.glob(pattern)
                  if p.parent == folder}  # fmt: skip
        assert files == listed, package
    # the Streamlit settings beside the app (dashboard/.streamlit, not a package) go along
    assert data["dashboard"] == [".streamlit/config.toml"]
    assert (ROOT / "dashboard" / ".streamlit" / "config.toml").is_file()


def test_serve_turns_magic_off_on_its_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dashboard/.streamlit/config.toml turns Streamlit's magic off where it sits beside the
    app; an installed wheel did not carry it (a tester), so serve says it too."""
    import radqa.serve

    seen: list[list[str]] = []

    def execve(path: str, cmd: list[str], env: dict[str, str]) -> None:
        seen.append(cmd)
        raise SystemExit(0)

    monkeypatch.setattr(radqa.serve.os, "execve", execve)
    monkeypatch.setattr(radqa.serve, "_check_port_free", lambda host, port: None)
    with pytest.raises(SystemExit):
        radqa.serve.serve(tmp_path, port=8599)
    [cmd] = seen
    assert cmd[cmd.index("--runner.magicEnabled") + 1] == "false"
