"""The header of a CSV file is its first line, however the file is read."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.readers import _csv_header

HEADER = "study_uid,patient_id,site,study_datetime,modality,finding,model_name,model_version,score"


def test_the_header_is_the_first_line_of_a_large_file_every_time(tmp_path: Path) -> None:
    """Read with several threads and preserve_insertion_order off (as ingest's connection is),
    'limit 1' gave a data line in about 4 of 100 reads of a 15 MB file: a valid file was refused
    at random ("column names repeat", or no header row when that line held semicolons). 150
    reads, all the header: with 8 threads the old code gave a data line in 31 of 300."""
    path = tmp_path / "big.csv"
    row = "1.2.{i},MRN{i:07d},Osaka,2026-10-01,CT,n,M,1,0.6,a;b;c;d;e;f;g;h;i;j;k;l\n"
    with path.open("w") as fh:
        fh.write(HEADER + ",note\n")
        fh.writelines(row.format(i=i) for i in range(200_000))
    con = duckdb.connect()
    con.execute("set threads = 8")  # as on a larger server; this machine has 2 cores
    con.execute("set preserve_insertion_order = false")
    headers = {tuple(_csv_header(con, path, path)[1]) for _ in range(150)}
    assert headers == {(*HEADER.split(","), "note")}
