"""`radqa rules`: an admin checks the alert rules before the monthly run, reads the defaults'
documentation, and writes them to edit (the rules format was documented only in Python)."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics import default_rules
from metrics._rules import DEFAULT_RULES_TOML
from radqa.cli import main


def test_rules_lists_the_defaults_and_writes_them_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "rules"]) == 0
    out = capsys.readouterr().out.splitlines()
    rules = default_rules()
    assert out[0] == (
        f"{len(rules)} alert rule(s), all valid, from built-in default rules (no alert_rules.toml "
        "in the data dir):"
    )
    assert out[1] == "  new scanner model: new_category of scanner_model by site"
    assert len(out) == len(rules) + 2
    assert out[-1].startswith("reference window: automatic: the first 6 months from the first ")
    assert not data.exists()  # checking writes nothing

    assert main(["--data-dir", str(data), "rules", "--print-defaults"]) == 0
    assert capsys.readouterr().out == DEFAULT_RULES_TOML

    assert main(["--data-dir", str(data), "rules", "--write"]) == 0
    path = data / "alert_rules.toml"
    assert capsys.readouterr().out == f"wrote {path}: the built-in defaults, to edit\n"
    assert path.read_text() == DEFAULT_RULES_TOML
    path.write_text(DEFAULT_RULES_TOML.replace('name = "new scanner model"', 'name = "mine"'))
    assert main(["--data-dir", str(data), "rules", "--write"]) == 2
    assert capsys.readouterr().err == (
        f"radqa: error: {path} is already there; edit it (an existing file is never overwritten)\n"
    )
    assert main(["--data-dir", str(data), "rules"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{len(rules)} alert rule(s), all valid, from {path}:"
    assert out[1] == "  mine: new_category of scanner_model by site"
    path.write_text(path.read_text() + '\n[reference]\nfirst = "2025-01"\nlast = "2025-06"\n')
    assert main(["--data-dir", str(data), "rules"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "reference window: 2025-01..2025-06, set in alert_rules.toml ([reference])"
    )


def test_rules_names_the_wrong_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "alert_rules.toml").write_text(
        '[[rule]]\nname = "x"\nmethod = "psi"\nmetric = "score"\ngroup_by = ["site"]\n'
        "threshold = 0.2\nmin_n = 10\npersistence = 1\nwindow = 2\n"
    )
    assert main(["--data-dir", str(data), "rules"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"radqa: error: {data / 'alert_rules.toml'}: rule 1 ('x'): unknown keys ['window']; "
    )
