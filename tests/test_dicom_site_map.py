"""The [site_map] matches a DICOM InstitutionName ignoring case and spacing, and the summary lists
the names it did not match (a QA tester, qa9/config fault 11: 'Osaka Univ Hosp' against an entry
"OSAKA UNIV HOSP" silently became a site of its own, one hospital shown as two)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.dicom import ingest_dicom
from radqa.errors import ConfigError
from radqa.settings import Settings, institution_key, load_settings

from .test_dicom import _cr, _studies


def test_an_institution_written_in_another_case_or_spacing_is_mapped(tmp_path: Path) -> None:
    _cr(tmp_path / "in" / "1.dcm", study="9.9.1", InstitutionName="Osaka Univ Hosp")
    _cr(tmp_path / "in" / "2.dcm", study="9.9.2", InstitutionName="  OSAKA  univ HOSP ")
    _cr(tmp_path / "in" / "3.dcm", study="9.9.3", InstitutionName="KOBE CITY HOSP")
    _cr(tmp_path / "in" / "4.dcm", study="9.9.4", InstitutionName="Kobe City Hosp")
    data = tmp_path / "data"
    settings = Settings(data_dir=data, site_map={"OSAKA UNIV HOSP": "Osaka University Hospital"})

    summary = ingest_dicom(data, [tmp_path / "in"], settings=settings)

    sites = {uid: row[:2] for uid, row in _studies(data).items()}
    assert sites == {
        "9.9.1": ("Osaka University Hospital", "Osaka Univ Hosp"),
        "9.9.2": ("Osaka University Hospital", "OSAKA  univ HOSP"),  # stored as sent, stripped
        "9.9.3": ("KOBE CITY HOSP", "KOBE CITY HOSP"),
        "9.9.4": ("Kobe City Hosp", "Kobe City Hosp"),
    }
    assert summary.unmapped == ["KOBE CITY HOSP", "Kobe City Hosp"]
    assert summary.message == (
        f"{tmp_path / 'in'}: batch 1: 4 studies from 4 of 4 file(s): 4 new, 0 updated, "
        "0 unchanged; 0 file(s) skipped; 2 InstitutionName(s) not in the [site_map]"
    )
    assert summary.render().splitlines()[1:4] == [
        "note: 2 InstitutionName(s) matched no [site_map] entry (case and spaces ignored); "
        "a study not stored before takes the name itself as its site:",
        "  KOBE CITY HOSP",
        "  Kobe City Hosp",
    ]
    assert summary.ok  # a note, not an error: exit 0


def test_without_a_site_map_no_name_is_listed(tmp_path: Path) -> None:
    _cr(tmp_path / "in" / "1.dcm", study="9.9.1", InstitutionName="Osaka Univ Hosp")
    data = tmp_path / "data"
    summary = ingest_dicom(data, [tmp_path / "in"], settings=Settings(data_dir=data))
    assert summary.unmapped == []
    assert _studies(data)["9.9.1"][:2] == ("Osaka Univ Hosp", "Osaka Univ Hosp")


def test_the_match_key_ignores_case_and_runs_of_spaces() -> None:
    assert institution_key(" Osaka\u3000 Univ\tHosp ") == "osaka univ hosp"
    settings = Settings(data_dir=Path("."), site_map={"OSAKA UNIV HOSP": "Osaka"})
    assert settings.site_for("osaka univ  hosp") == "Osaka"
    assert settings.site_for("OSAKA UNIV HOSPITAL") is None


def test_two_entries_for_one_institution_with_two_sites_are_refused(tmp_path: Path) -> None:
    (tmp_path / "radqa.toml").write_text(
        '[site_map]\n"OSAKA UNIV HOSP" = "Osaka"\n"Osaka Univ Hosp" = "Osaka University"\n'
    )
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'radqa.toml'}: site_map.\"OSAKA UNIV HOSP\" = 'Osaka' and "
        "site_map.\"Osaka Univ Hosp\" = 'Osaka University' name one institution (case and "
        "spaces are ignored) but two sites; keep one"
    )
    (tmp_path / "radqa.toml").write_text(
        '[site_map]\n"OSAKA UNIV HOSP" = "Osaka"\n"Osaka Univ Hosp" = "Osaka"\n'
    )
    assert load_settings(tmp_path).site_for("osaka univ hosp") == "Osaka"
