"""Japanese and Korean site names in the monthly report's PDF (a tester's fault: empty boxes).

DejaVu Sans, the report's first font, has no CJK glyphs. ``scripts/install-system-packages.sh``
installs Debian's fonts-noto-cjk; the report's CSS and the charts' plotly layout name
Noto Sans CJK JP after DejaVu Sans. The test writes the report of a small hand-built store with
two sites, 大阪病院 and 서울대병원, and checks the PDF: the CJK font is embedded, the names come
back as text from the tables and the volume chart's legend, and every CJK character is drawn with
the font the report names (not whatever fontconfig's fallback happens to pick: without the
CSS entry the Korean names came out in Noto Sans CJK KR, the Japanese in JP). On this machine
WeasyPrint's fallback draws the chart's CJK text with the JP face even when the chart names no
CJK font, so the second test checks the chart's own setting in its SVG (which a browser showing
the HTML report uses) instead.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reports.monthly import write_monthly_report

SITES = ["大阪病院", "서울대병원"]
MONTHS = [f"2025-{m:02d}" for m in range(1, 10)]
CJK_FONT = "Noto-Sans-CJK-JP"  # as pdffonts lists Noto Sans CJK JP (after the subset tag)

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("pdftotext", "pdffonts", "chromium", "fc-list"))
    or not subprocess.run(
        ["fc-list", "Noto Sans CJK JP"], capture_output=True, text=True
    ).stdout.strip(),  # fmt: skip
    reason="needs poppler-utils, /usr/bin/chromium and fonts-noto-cjk (make system)",
)


def _write_store(path: Path) -> None:
    from ingest.load import ingest_files  # noqa: PLC0415

    preds: list[list[object]] = []
    reads: list[list[object]] = []
    for month in MONTHS:
        for site in SITES:
            for i in range(60):
                uid = f"1.2.3.{len(preds) + 1}"
                day = f"{month}-{1 + i % 27:02d}"
                label, ai = i % 3 == 0, i % 3 == 0 or i % 10 == 1
                preds.append([uid, site, "ptx", "M", "1", f"P{len(preds)}", f"{day}T10:00:00",
                              "CR", 0.9 if ai else 0.1, int(ai), "Acme", "ScanA", "v1"])  # fmt: skip
                reads.append([uid, "ptx", "R1", int(label), f"{day}T12:00:00"])
    header = ("study_uid,site,finding,model_name,model_version,patient_id,study_datetime,"
              "modality,score,predicted,scanner_manufacturer,scanner_model,scanner_software")  # fmt: skip
    for name, head, rows in (("pred.csv", header, preds),
                             ("reads.csv", "study_uid,finding,reader_id,label,read_datetime",
                              reads)):  # fmt: skip
        with open(path.parent / name, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(head.split(","))
            w.writerows(rows)
    ingest_files(path, "predictions", [path.parent / "pred.csv"], publish=False)
    ingest_files(path, "reads", [path.parent / "reads.csv"], publish="end")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    path = tmp_path_factory.mktemp("cjk") / "data"
    path.mkdir()
    _write_store(path)
    return write_monthly_report(path, MONTHS[-1], path.parent / "out")


@pytest.fixture(scope="module")
def pdf(files: list[Path]) -> Path:
    return files[1]


def _text(pdf: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", "-layout", *args, str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout  # fmt: skip


def test_japanese_and_korean_site_names_are_drawn_with_the_cjk_font(pdf: Path) -> None:
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]  # fmt: skip
    names = {line.split()[0].partition("+")[2] for line in fonts}
    assert CJK_FONT in names, f"pdffonts lists {sorted(names)}; expected {CJK_FONT}"
    cjk = [n for n in names if "CJK" in n or "Nanum" in n or "IPA" in n or "WenQuanYi" in n]
    assert cjk == [CJK_FONT], f"CJK text drawn with {sorted(cjk)}; expected only {CJK_FONT}"
    for line in fonts:  # embedded as a subset, so every reader shows the glyphs
        if CJK_FONT in line:
            assert line.split()[-5:-3] == ["yes", "yes"], line
    text = _text(pdf)
    for site in SITES:
        assert site in text, f"{site} is not text in the PDF"
    # the volume chart's legend: both names on the page of 'Studies per month by site'
    pages = text.split("\f")
    chart = [p for p in pages if "Studies per month by site" in p]
    assert chart and all(site in chart[0] for site in SITES), chart[:1]
    assert not re.search("[\u25a1\ufffd]", text), "the PDF has boxes or replacement characters"


def test_the_chart_legend_asks_for_the_cjk_font(files: list[Path]) -> None:
    html = files[0].read_text(encoding="utf-8")
    found = re.findall(r'<text class="legendtext"[^>]*style="([^"]*)"[^>]*>([^<]*)<', html)
    legend = {text: style for style, text in found}
    for site in SITES:
        assert site in legend, f"{site} is not in a chart legend: {sorted(legend)}"
        assert "font-family: 'DejaVu Sans', 'Noto Sans CJK JP', Arial, sans-serif;" in legend[site]
