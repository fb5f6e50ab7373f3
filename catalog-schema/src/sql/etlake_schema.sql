-- etlake's own schema, beside agdc (Python never reads or changes it). Owned by agdc_admin.
-- Version 2 (the tables of version 1; version 2 rewrote the STAC items, see stac_upgrade.rs);
-- version 3 added the item's time and box columns (below).
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

-- Version 3: the item's time and box as columns Postgres computes from the item when it is written
-- (generated, so every writer fills them), for the STAC API's filters, keyset order and collection
-- extents without reading the item's JSON. An older table gains them on `etlake db init`.
-- A STAC datetime as timestamptz: NULL unless it looks like an RFC 3339 date-time (a malformed one
-- must not stop a dataset from being indexed); one without an offset is read as UTC. The result
-- depends on the text alone, whatever the session's TimeZone, as a generated column requires.
CREATE OR REPLACE FUNCTION etlake.stac_time(t text) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE
        WHEN t ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)$'
            THEN t::timestamptz
        WHEN t ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?)?$'
            THEN t::timestamp AT TIME ZONE 'UTC'
        END $$;
-- Member k (0 W, 1 S, 2 E, 3 N) of a STAC bbox, 2D or 3D; NULL unless a number.
CREATE OR REPLACE FUNCTION etlake.stac_bbox(b jsonb, k integer) RETURNS float8
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN jsonb_typeof(b) = 'array'
                      AND jsonb_typeof(b -> (CASE WHEN jsonb_array_length(b) = 6 AND k >= 2 THEN k + 1 ELSE k END)) = 'number'
                      THEN (b ->> (CASE WHEN jsonb_array_length(b) = 6 AND k >= 2 THEN k + 1 ELSE k END))::float8 END $$;
ALTER TABLE etlake.stac_item
    -- the item's datetime, else its start (the default sort key)
    ADD COLUMN IF NOT EXISTS datetime timestamptz GENERATED ALWAYS AS
        (etlake.stac_time(coalesce(item #>> '{properties,datetime}', item #>> '{properties,start_datetime}'))) STORED,
    ADD COLUMN IF NOT EXISTS start_datetime timestamptz GENERATED ALWAYS AS
        (etlake.stac_time(coalesce(item #>> '{properties,start_datetime}', item #>> '{properties,datetime}'))) STORED,
    ADD COLUMN IF NOT EXISTS end_datetime timestamptz GENERATED ALWAYS AS
        (etlake.stac_time(coalesce(item #>> '{properties,end_datetime}', item #>> '{properties,datetime}'))) STORED,
    ADD COLUMN IF NOT EXISTS bbox_w float8 GENERATED ALWAYS AS (etlake.stac_bbox(item -> 'bbox', 0)) STORED,
    ADD COLUMN IF NOT EXISTS bbox_s float8 GENERATED ALWAYS AS (etlake.stac_bbox(item -> 'bbox', 1)) STORED,
    ADD COLUMN IF NOT EXISTS bbox_e float8 GENERATED ALWAYS AS (etlake.stac_bbox(item -> 'bbox', 2)) STORED,
    ADD COLUMN IF NOT EXISTS bbox_n float8 GENERATED ALWAYS AS (etlake.stac_bbox(item -> 'bbox', 3)) STORED;
-- The API's default order (newest first, then id): a collection's pages are read from this index.
CREATE INDEX IF NOT EXISTS etlake_ix_stac_item_collection_datetime
    ON etlake.stac_item (collection, datetime DESC NULLS LAST, item_id DESC NULLS LAST);
-- Items without a datetime (none, normally): a later page reads the index above from the token's
-- position only when a collection has none.
CREATE INDEX IF NOT EXISTS etlake_ix_stac_item_no_datetime
    ON etlake.stac_item (collection) WHERE datetime IS NULL;

GRANT USAGE ON SCHEMA etlake TO agdc_user;
-- The generated columns call these as whoever writes an item (and the API as agdc_user).
GRANT EXECUTE ON FUNCTION etlake.stac_time(text), etlake.stac_bbox(jsonb, integer) TO agdc_user, agdc_ingest;
GRANT SELECT ON ALL TABLES IN SCHEMA etlake TO agdc_user;
GRANT INSERT, UPDATE, DELETE ON etlake.stac_item, etlake.index_run, etlake.index_outcome,
    etlake.source_object, etlake.pending_lineage TO agdc_ingest;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA etlake TO agdc_ingest;
