-- Schema version 3: the byte size of each batch's file. A file whose size no committed batch of
-- its kind has cannot be one already loaded, so ingest checks its rows while the file's sha256 is
-- still being computed instead of first reading the whole file once for the hash
-- (ingest.load._ingest_one). Batches recorded before this version have NULL here.
alter table ingest_batches add column if not exists file_bytes bigint;
