"""Monitoring finds what is planted and only that (demo data, two configurations)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from metrics._monitor import monitor
from metrics._periods import ReferenceWindow, add_months, month_index
from radqa._demo_config import DemoConfig
from radqa._demo_expected import model_version_switches
from radqa._demo_plan import compile_plan
from radqa.demo import default_config, generate_demo
from radqa.store import memory_store, refresh_reference


def _load(out: Path, **kwargs):  # type: ignore[no-untyped-def]
    """Demo files straight into an in-memory store (the ingest path is tested in tests/ingest)."""
    files = generate_demo(out, **kwargs)
    con = memory_store()
    preds = f"read_parquet('{out}/predictions-*.parquet')"
    con.execute(
        f"""insert into studies (study_uid, site, modality, body_part, scanner_manufacturer,
            scanner_model, scanner_software, station, study_datetime, patient_age, patient_sex)
        select distinct study_uid, site, modality, body_part, scanner_manufacturer,
            scanner_model, scanner_software, station, study_datetime::timestamp, patient_age,
            patient_sex
        from {preds}"""
    )
    con.execute(
        f"""insert into predictions (study_uid, finding, model_name, model_version, score,
            predicted, threshold, threshold_source, row_hash, batch_id)
        select study_uid, finding, model_name, model_version, score, predicted::boolean,
            threshold, 'file', 0, 1
        from {preds}"""
    )
    reads = [str(p) for p in files.reads if p != files.reader_study]
    con.execute(
        """insert into reads (study_uid, finding, reader_pid, read_role, arm, label,
            read_datetime, ai_assisted, row_hash, batch_id)
        select study_uid, finding, reader_id, read_role, coalesce(arm, ''), label,
            read_datetime, ai_assisted, 0, 2
        from read_csv($files, union_by_name = true)""",
        {"files": reads},
    )
    refresh_reference(con)  # what ingest does after each reads batch
    return con, json.loads(files.effects.read_text())


def _matches(alert_group: dict[str, str], effect_group: dict[str, str]) -> bool:
    """The alert is in the effect's group: same site, and every key both name agrees."""
    shared = set(alert_group) & set(effect_group)
    return "site" in shared and all(alert_group[k] == effect_group[k] for k in shared)


def _switch(alert) -> tuple[str, str, str, str] | None:  # type: ignore[no-untyped-def]
    """A "new model version" alert as (site, model, version, first month), else None."""
    if alert.rule != "new model version":
        return None
    g = alert.group
    return g["site"], g["model_name"], g["model_version"], alert.first_period


def _check(con, doc, config: DemoConfig) -> None:  # type: ignore[no-untyped-def]
    """Every planted effect alerts in its first two months, every model version installed after
    the reference window (no effect, a vendor's update) in its first month, and nothing else
    alerts before the first effect."""
    reference = ReferenceWindow.first_months(len(doc["reference_months"]))
    plan = compile_plan(config, seed=doc["seed"], studies=doc["studies"], months=doc["months"])
    switches = {(s["site"], s["model_name"], s["model_version"], s["start"])
                for s in model_version_switches(plan)}  # fmt: skip
    first_effect = min(e["start"] for e in doc["effects"])
    before = [
        m for m in doc["months"]
        if m not in doc["reference_months"] and month_index(m) < month_index(first_effect)
    ]  # fmt: skip
    assert before, "the configuration must leave months between the reference and the effects"
    false_alerts = []
    for m in before:
        false_alerts += [
            (m, a.rule, a.group)
            for a in monitor(con, month=m, reference=reference).alerts
            if _switch(a) not in switches
        ]
    assert false_alerts == []
    starts = sorted({s[3] for s in switches})
    assert starts, "the configuration must install a model version after the reference"
    found_switches = set()
    for m in starts:
        found_switches |= {_switch(a) for a in monitor(con, month=m, reference=reference).alerts}
    assert switches <= found_switches
    missed = []
    for effect in doc["effects"]:
        found = []
        for m in (effect["start"], add_months(effect["start"], 1)):
            alerts = monitor(con, month=m, reference=reference).alerts
            found += [
                a for a in alerts if _switch(a) is None and _matches(a.group, effect["group"])
            ]
        if not found:
            missed.append(effect["id"])
    assert missed == []


@pytest.mark.slow
def test_demo_default_effects_found_and_nothing_else(tmp_path: Path) -> None:
    con, doc = _load(tmp_path, studies=150_000, seed=7)
    assert len(doc["effects"]) == 4
    _check(con, doc, default_config())


@pytest.mark.slow
def test_other_seed_months_and_effect_starts(tmp_path: Path) -> None:
    cfg = default_config()
    starts = {"kobe-protocol-shift": 11, "osaka-ysio-software": 9, "busan-new-samsung": 15,
              "tokyo-effusion-referrals": 13}  # fmt: skip
    effects = tuple(dataclasses.replace(e, start=starts[e.id]) for e in cfg.effects)
    cfg = dataclasses.replace(cfg, effects=effects)
    con, doc = _load(tmp_path, studies=150_000, seed=23, end_month="2025-12", months=20, config=cfg)
    assert [e["start"] for e in doc["effects"]] == ["2025-04", "2025-02", "2025-08", "2025-06"]
    _check(con, doc, cfg)


def test_alert_has_exactly_the_documented_keys(tmp_path: Path) -> None:
    con, doc = _load(tmp_path, studies=40_000, seed=5)
    start = next(e["start"] for e in doc["effects"] if e["kind"] == "new_scanner_model")
    result = monitor(con, month=start, reference=ReferenceWindow.first_months(6))
    alert = next(a for a in result.alerts if a.rule == "new scanner model")
    d = alert.as_dict()
    assert list(d) == ["rule", "metric", "value", "threshold", "group", "first_period",
                       "periods", "evidence"]  # fmt: skip
    assert list(d["evidence"]) == ["n", "n_reference", "p_value", "p_adjusted", "ci_low",
                                   "ci_high", "method", "reference_value",
                                   "months_covered"]  # fmt: skip
    assert d["evidence"]["months_covered"] == 1  # a one-month rule
    assert d["group"] == {"site": "Busan Community Hospital", "scanner_model": "GC85A"}
    assert d["first_period"] == start and d["periods"] == 1
    assert set(result.results["status"]) <= {"ok", "drift", "insufficient data"}
    assert {"reference_share", "month_share"} <= set(result.histograms.columns)
    assert set(result.spc["metric"]) == {"sensitivity", "specificity", "positive_rate"}


def _volume_store(monthly: dict[tuple[str, str], list[int]], months: list[str]):  # type: ignore[no-untyped-def]
    """A store with ``monthly[(site, scanner)][t]`` studies in month ``months[t]``, one
    prediction each (the volume rules count studies the AI scored)."""
    con = memory_store()
    for (site, scanner), counts in monthly.items():
        for month, k in zip(months, counts, strict=True):
            if not k:
                continue
            params = {"site": site, "scanner": scanner, "k": k, "day": f"{month}-01"}
            con.execute(
                """insert into studies (study_uid, site, modality, scanner_manufacturer,
                    scanner_model, scanner_software, study_datetime, patient_sex)
                select $site || $scanner || $day || i, $site, 'CR', 'Acme', $scanner, '1',
                    $day::timestamp + to_minutes(i::bigint), 'F'
                from range($k) t(i)""",
                params,
            )
    con.execute(
        """insert into predictions (study_uid, finding, model_name, model_version, score,
            predicted, threshold, threshold_source, row_hash, batch_id)
        select study_uid, 'effusion', 'M', 'v1', 0.3, false, 0.5, 'file', 0, 1 from studies"""
    )
    return con


def test_a_site_or_scanner_that_stops_sending_alerts() -> None:
    """min_n applies to the reference volume: a drop to zero is the alert, not 'insufficient'."""
    months = [f"2026-0{i}" for i in range(1, 10)]
    con = _volume_store(
        {
            ("Kobe", "K1"): [100] * 8 + [0],  # the site stops sending in 2026-09
            ("Osaka", "X"): [50] * 8 + [0],  # one scanner stops, the other goes on
            ("Osaka", "Y"): [100] * 9,
            ("Tiny", "T"): [20] * 8 + [0],  # too small a reference to judge
        },
        months,
    )
    result = monitor(con, month="2026-09", reference=ReferenceWindow.first_months(6))
    volume = [a for a in result.alerts if a.metric == "volume"]
    assert [(a.rule, a.group, a.value, a.evidence["n"], a.first_period) for a in volume] == [
        ("volume drop (site)", {"site": "Kobe"}, -1.0, 0, "2026-09"),
        ("volume drop (scanner)", {"site": "Osaka", "scanner_model": "X"}, -1.0, 0, "2026-09"),
    ]  # Kobe's scanner K1 restates its site and is dropped; Tiny and Osaka as a whole stay quiet
    assert volume[0].evidence["reference_value"] == pytest.approx(100.0)
    assert volume[0].evidence["p_adjusted"] < 1e-10
    res = result.results
    rows = res[(res["rule"] == "volume drop (site)") & (res["month"] == "2026-09")]
    status = dict(zip(rows["site"], rows["status"], strict=True))
    assert status == {"Kobe": "drift", "Osaka": "ok", "Tiny": "insufficient data"}


def test_pooled_positive_rate_finds_the_software_upgrade_at_20000_studies(tmp_path: Path) -> None:
    """At 20,000 studies the per-finding groups hold ~54 films a month (min_n 100): only the
    rule pooled over the findings of a site's scanner sees the Ysio Max upgrade."""
    con, doc = _load(tmp_path, studies=20_000, seed=7)
    effect = next(e for e in doc["effects"] if e["id"] == "osaka-ysio-software")
    month = add_months(effect["start"], 1)  # persistence 2
    result = monitor(con, month=month, reference=ReferenceWindow.first_months(6))
    res = result.results
    per_finding = res[(res["rule"] == "AI positive rate change") & (res["month"] == month)
                      & (res["scanner_model"] == "Ysio Max")]  # fmt: skip
    assert set(per_finding["status"]) == {"insufficient data"}
    pooled = [a for a in result.alerts if a.rule == "AI positive rate change (all findings)"]
    assert [a.group for a in pooled] == [
        {"site": "Osaka University Hospital", "scanner_model": "Ysio Max"}
    ]
    alert = pooled[0]
    assert alert.first_period == effect["start"] and alert.periods == 2
    assert 0.08 < alert.value < 0.15 and alert.evidence["p_adjusted"] < 0.01
    assert alert.evidence["n"] >= 100
