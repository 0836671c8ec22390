"""alert_rules.toml saved by Windows Notepad as "UTF-8 with BOM" is read (a QA tester, qa9/config
fault 14: it gave "not valid TOML: Invalid statement (at line 1, column 1)")."""

from __future__ import annotations

from pathlib import Path

from metrics import load_rules


def test_a_byte_order_mark_is_read_as_utf8(tmp_path: Path) -> None:
    text = (
        '\ufeff[[rule]]\r\nname = "sens drop"\r\nmethod = "two_proportion"\r\n'
        'metric = "sensitivity"\r\ngroup_by = ["site"]\r\nthreshold = 0.05\r\n'
    )
    path = tmp_path / "alert_rules.toml"
    path.write_bytes(text.encode("utf-8"))
    [rule] = load_rules(path)
    assert (rule.name, rule.method, rule.metric, rule.group_by, rule.threshold) == (
        "sens drop",
        "two_proportion",
        "sensitivity",
        ("site",),
        0.05,
    )
