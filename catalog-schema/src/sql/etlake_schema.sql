-- etlake's own schema, beside agdc (Python never reads or changes it). Owned by agdc_admin.
-- Version 2 (the tables of version 1; version 2 rewrote the STAC items, see stac_upgrade.rs).
-- Later versions add statements guarded by etlake.schema_version.
CREATE SCHEMA IF NOT EXISTS etlake;

CREATE TABLE IF NOT EXISTS etlake.schema_version (
    version integer PRIMARY KEY,
    etlake_version varchar NOT NULL,
    applied timestamptz NOT NULL DEFAULT now()
);

-- One STAC item per indexed dataset, written in the same transaction as agdc.dataset.
-- No foreign key to agdc.dataset, so Python's `dataset purge` is never blocked by etlake rows.
CREATE TABLE IF NOT EXISTS etlake.stac_item (
    dataset_ref uuid PRIMARY KEY,
    collection varchar NOT NULL,
    item_id varchar NOT NULL,
    item jsonb NOT NULL,
    added timestamptz NOT NULL DEFAULT now(),
    updated timestamptz,
    CONSTRAINT etlake_uq_stac_item_collection_item UNIQUE (collection, item_id)
);

-- One row per `etlake index` (or dataset update/archive) invocation.
CREATE TABLE IF NOT EXISTS etlake.index_run (
    id bigserial PRIMARY KEY,
    command text NOT NULL,
    sources text[] NOT NULL DEFAULT '{}',
    status varchar NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'succeeded', 'partial', 'failed', 'interrupted')),
    counts jsonb NOT NULL DEFAULT '{}',
    etlake_version varchar NOT NULL,
    started_by name NOT NULL DEFAULT CURRENT_USER,
    started timestamptz NOT NULL DEFAULT now(),
    finished timestamptz
);

-- What happened to each object of a run: the honest per-object report.
CREATE TABLE IF NOT EXISTS etlake.index_outcome (
    run_ref bigint NOT NULL REFERENCES etlake.index_run (id) ON DELETE CASCADE,
    uri varchar NOT NULL,
    outcome varchar NOT NULL
        CHECK (outcome IN ('indexed', 'updated', 'unchanged', 'exists-different', 'archived', 'skipped', 'failed')),
    product varchar,
    dataset_ref uuid,
    reason text,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS etlake_ix_index_outcome_run ON etlake.index_outcome (run_ref, outcome);

-- Crawl checkpoint: the last seen version of each source object, so an unchanged object is not re-read.
CREATE TABLE IF NOT EXISTS etlake.source_object (
    uri varchar PRIMARY KEY,
    etag varchar,
    size bigint,
    last_modified timestamptz,
    dataset_refs uuid[] NOT NULL DEFAULT '{}',
    run_ref bigint REFERENCES etlake.index_run (id) ON DELETE SET NULL,
    seen timestamptz NOT NULL DEFAULT now()
);

-- Lineage edges whose source dataset is not indexed yet; written to agdc.dataset_source when it arrives.
CREATE TABLE IF NOT EXISTS etlake.pending_lineage (
    dataset_ref uuid NOT NULL,
    classifier varchar NOT NULL,
    source_dataset_ref uuid NOT NULL,
    added timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset_ref, classifier)
);
CREATE INDEX IF NOT EXISTS etlake_ix_pending_lineage_source ON etlake.pending_lineage (source_dataset_ref);

GRANT USAGE ON SCHEMA etlake TO agdc_user;
GRANT SELECT ON ALL TABLES IN SCHEMA etlake TO agdc_user;
GRANT INSERT, UPDATE, DELETE ON etlake.stac_item, etlake.index_run, etlake.index_outcome,
    etlake.source_object, etlake.pending_lineage TO agdc_ingest;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA etlake TO agdc_ingest;
