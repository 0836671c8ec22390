-- Schema version 2: the reference standard per study and finding, kept as a table.
-- Derived from reads by reference_standard.sql; ingest refreshes the rows of the items a reads
-- batch touched, so readers join a small table instead of re-deriving it from millions of reads.
-- The migration fills it from the reads already stored (radqa.store.refresh_reference).
create table if not exists reference_standard (
    study_uid       varchar not null,
    finding         varchar not null,
    ref_label       tinyint not null,
    ref_source      varchar not null,   -- adjudication, consensus, majority, single read, majority tie: primary read
    n_readers       bigint not null,    -- clinical reads of the item
    any_ai_assisted boolean not null,   -- any of those reads made with the AI output visible
    first_read_at   timestamp not null
);
