"""Reads whose studies the store does not know (no prediction, no DICOM header) load and wait,
but the batch message says how many: a site whose reads are keyed by accession number while its
predictions carry the StudyInstanceUID would otherwise see every study stay pending without a
word (a tester: reads for a study never predicted were not mentioned)."""

from __future__ import annotations

from pathlib import Path

from ingest.load import ingest_files
from tests.ingest.conftest import PRED_HEADER, READ_HEADER, write

WAIT = (
    "the reads wait for their predictions; if those never come, check that both files name a "
    "study by the same study_uid (the StudyInstanceUID in both, or the accession number in both)"
)


def test_reads_of_unknown_studies_are_counted(data_dir: Path, tmp_path: Path) -> None:
    preds = write(
        tmp_path / "p.csv",
        f"{PRED_HEADER}\n1.2.3.1,P1,Osaka,2026-10-01,CR,ptx,M,1,0.5\n"
        "1.2.3.2,P2,Osaka,2026-10-01,CR,ptx,M,1,0.5",
    )
    ingest_files(data_dir, "predictions", [preds], publish=False)
    # keyed by accession number: none of them meets a prediction
    accessions = write(
        tmp_path / "acc.csv",
        f"{READ_HEADER}\nA1001,ptx,R1,1,2026-10-02\nA1002,ptx,R1,0,2026-10-02\n"
        "A1002,ptx,R2,0,2026-10-02",
    )
    [acc] = ingest_files(data_dir, "reads", [accessions], publish=False)
    assert acc.message == (
        "acc.csv: 3 accepted (3 new, 0 replaced, 0 unchanged), 0 quarantined; none of its 2 "
        f"studies is known yet (no prediction or DICOM header has named them): {WAIT}"
    )
    some = write(
        tmp_path / "some.csv",
        f"{READ_HEADER}\n1.2.3.1,ptx,R1,1,2026-10-02\n1.2.3.9,ptx,R1,0,2026-10-02",
    )
    [part] = ingest_files(data_dir, "reads", [some], publish=False)
    assert part.message.endswith(
        "; 1 of its 2 studies is not known yet (no prediction or DICOM header has named it): "
        + WAIT
    )
    known = write(tmp_path / "known.csv", f"{READ_HEADER}\n1.2.3.2,ptx,R1,1,2026-10-02")
    [quiet] = ingest_files(data_dir, "reads", [known], publish=False)
    assert quiet.message == "known.csv: 1 accepted (1 new, 0 replaced, 0 unchanged), 0 quarantined"
