"""pyproject.toml lists every folder of the five packages, with its SQL and template files: a
folder left out made setuptools print four "Package would be ignored" warnings at each install
(a tester), and a wheel built from it would lack the files."""

from __future__ import annotations

import tomllib
from pathlib import Path

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
        listed = {
            f for pattern in data.get(package, []) for f in (p.name for p in folder.glob(pattern))
        }
        assert files == listed, package
