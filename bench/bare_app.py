"""The yardstick the dashboard issue quotes: a bare Streamlit page running one grouped DuckDB
query over the predictions of the bench snapshot (no RadQA code). ``bench/pages_bench.py``
starts it cold beside ``radqa serve``; ``BARE_DB`` names the snapshot file."""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import streamlit as st


@st.cache_data
def grouped(path: str) -> pd.DataFrame:
    con = duckdb.connect(path, read_only=True)
    try:
        return con.sql(
            "select model_name, finding, count(*) as n, avg(score) as mean_score "
            "from predictions group by all order by all"
        ).df()
    finally:
        con.close()


st.title("Bare page")
st.dataframe(grouped(os.environ["BARE_DB"]))
