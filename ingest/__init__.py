"""RadQA ingest layer."""
