"""Alert rules: defaults, never overwriting, and errors naming file, rule and valid keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics import data_dir_rules, default_rules, ensure_rules_file, load_rules
from metrics._rules import DEFAULT_RULES_TOML
from radqa.errors import ConfigError


def test_defaults_written_once_and_never_overwritten(tmp_path: Path) -> None:
    path = ensure_rules_file(tmp_path)
    assert path == tmp_path / "alert_rules.toml" and path.read_text() == DEFAULT_RULES_TOML
    assert [r.name for r in load_rules(path)] == [r.name for r in default_rules()]
    path.write_text("# mine\n")
    ensure_rules_file(tmp_path)
    assert path.read_text() == "# mine\n"


def test_data_dir_rules_never_write_and_read_old_unedited_defaults_as_today_s(
    tmp_path: Path,
) -> None:
    rules, source = data_dir_rules(tmp_path / "no-such-dir")
    assert [r.name for r in rules] == [r.name for r in default_rules()]
    assert "volume drop (site)" in [r.name for r in rules]
    assert source == "built-in default rules (no alert_rules.toml in the data dir)"
    assert list(tmp_path.iterdir()) == []
    # the file an earlier version wrote on first use, never edited: today's defaults apply
    (tmp_path / "alert_rules.toml").write_text(_earlier_text())
    rules, source = data_dir_rules(tmp_path)
    assert [r.name for r in rules] == [r.name for r in default_rules()]
    assert source == (
        "built-in default rules (alert_rules.toml is an unedited copy of an earlier version's "
        "defaults)"
    )
    (tmp_path / "alert_rules.toml").write_text(_earlier_text() + "\n# mine\n")
    rules, source = data_dir_rules(tmp_path)
    assert "volume drop (site)" not in [r.name for r in rules] and source == "alert_rules.toml"


def _earlier_text() -> str:
    """The default rules file RadQA wrote before 'volume drop' rules existed (commit f93c9a7)."""
    return (Path(__file__).parent / "data" / "alert_rules_f93c9a7.toml").read_text()


def test_unknown_method_names_file_rule_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "alert_rules.toml"
    path.write_text(
        '[[rule]]\nname = "x"\nmethod = "psl"\nmetric = "score"\nthreshold = 0.2\n'
        'group_by = ["site", "finding"]\n'
    )
    with pytest.raises(ConfigError) as e:
        load_rules(path)
    assert str(e.value).startswith(f"{path}: rule 1 ('x'): method 'psl' unknown; valid keys: chi2")


def test_unknown_key_and_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('[[rule]]\nname = "x"\nmethod = "psi"\nmetric = "score"\nthreshold = 0.2\n'
                    'group_by = ["site", "finding"]\npersistance = 2\n')  # fmt: skip
    with pytest.raises(ConfigError, match=r"rule 1 \('x'\): unknown keys \['persistance'\]"):
        load_rules(path)
    path.write_text("[[rule]\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_rules(path)
