-- The agdc schema as datacube 1.9.20 `system init` creates it (run as agdc_admin, so it owns everything).
CREATE SCHEMA IF NOT EXISTS agdc;

-- The body text, whitespace included, is what datacube writes: pg_dump shows it verbatim.
CREATE OR REPLACE FUNCTION agdc.common_timestamp(text)
RETURNS timestamp with time zone AS $$
    select ($1)::timestamp at time zone 'utc';
    $$ LANGUAGE sql IMMUTABLE RETURNS NULL ON NULL INPUT;

CREATE TYPE agdc.float8range AS RANGE (subtype = float8, subtype_diff = float8mi);

CREATE TABLE agdc.metadata_type (
    id SMALLSERIAL NOT NULL,
    name VARCHAR NOT NULL,
    definition JSONB NOT NULL,
    added TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    added_by NAME DEFAULT CURRENT_USER NOT NULL,
    updated TIMESTAMP WITH TIME ZONE,
    CONSTRAINT pk_metadata_type PRIMARY KEY (id),
    CONSTRAINT ck_metadata_type_alphanumeric_name CHECK (name ~* '^\w+$'),
    CONSTRAINT uq_metadata_type_name UNIQUE (name)
);

CREATE TABLE agdc.dataset_type (
    id SMALLSERIAL NOT NULL,
    name VARCHAR NOT NULL,
    metadata JSONB NOT NULL,
    metadata_type_ref SMALLINT NOT NULL,
    definition JSONB NOT NULL,
    added TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    added_by NAME DEFAULT CURRENT_USER NOT NULL,
    updated TIMESTAMP WITH TIME ZONE,
    CONSTRAINT pk_dataset_type PRIMARY KEY (id),
    CONSTRAINT ck_dataset_type_alphanumeric_name CHECK (name ~* '^\w+$'),
    CONSTRAINT uq_dataset_type_name UNIQUE (name),
    CONSTRAINT fk_dataset_type_metadata_type_ref_metadata_type FOREIGN KEY (metadata_type_ref) REFERENCES agdc.metadata_type (id)
);

CREATE TABLE agdc.dataset (
    id UUID NOT NULL,
    metadata_type_ref SMALLINT NOT NULL,
    dataset_type_ref SMALLINT NOT NULL,
    metadata JSONB NOT NULL,
    archived TIMESTAMP WITH TIME ZONE,
    added TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    added_by NAME DEFAULT CURRENT_USER NOT NULL,
    updated TIMESTAMP WITH TIME ZONE,
    CONSTRAINT pk_dataset PRIMARY KEY (id),
    CONSTRAINT fk_dataset_metadata_type_ref_metadata_type FOREIGN KEY (metadata_type_ref) REFERENCES agdc.metadata_type (id),
    CONSTRAINT fk_dataset_dataset_type_ref_dataset_type FOREIGN KEY (dataset_type_ref) REFERENCES agdc.dataset_type (id)
);
CREATE INDEX ix_ds_prod_isactive ON agdc.dataset (dataset_type_ref, (archived IS NULL));
CREATE INDEX ix_agdc_dataset_dataset_type_ref ON agdc.dataset (dataset_type_ref);
CREATE INDEX ix_ds_mdt_isactive ON agdc.dataset (metadata_type_ref, (archived IS NULL));
CREATE INDEX ix_ds_isactive ON agdc.dataset ((archived IS NULL));

CREATE TABLE agdc.dataset_location (
    id SERIAL NOT NULL,
    dataset_ref UUID NOT NULL,
    uri_scheme VARCHAR NOT NULL,
    uri_body VARCHAR NOT NULL,
    added TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    added_by NAME DEFAULT CURRENT_USER NOT NULL,
    archived TIMESTAMP WITH TIME ZONE,
    CONSTRAINT pk_dataset_location PRIMARY KEY (id),
    CONSTRAINT uq_dataset_location_uri_scheme UNIQUE (uri_scheme, uri_body, dataset_ref),
    CONSTRAINT fk_dataset_location_dataset_ref_dataset FOREIGN KEY (dataset_ref) REFERENCES agdc.dataset (id)
);
CREATE INDEX ix_agdc_dataset_location_dataset_ref ON agdc.dataset_location (dataset_ref);

CREATE TABLE agdc.dataset_source (
    dataset_ref UUID NOT NULL,
    classifier VARCHAR NOT NULL,
    source_dataset_ref UUID NOT NULL,
    CONSTRAINT pk_dataset_source PRIMARY KEY (dataset_ref, classifier),
    CONSTRAINT uq_dataset_source_source_dataset_ref UNIQUE (source_dataset_ref, dataset_ref),
    CONSTRAINT fk_dataset_source_dataset_ref_dataset FOREIGN KEY (dataset_ref) REFERENCES agdc.dataset (id),
    CONSTRAINT fk_dataset_source_source_dataset_ref_dataset FOREIGN KEY (source_dataset_ref) REFERENCES agdc.dataset (id)
);

CREATE OR REPLACE FUNCTION agdc.set_row_update_time()
RETURNS trigger AS $$
begin
  new.updated = now();
  return new;
end;
$$ LANGUAGE plpgsql;

CREATE TRIGGER row_update_time_metadata_type BEFORE UPDATE ON agdc.metadata_type
    FOR EACH ROW EXECUTE PROCEDURE agdc.set_row_update_time();
CREATE TRIGGER row_update_time_dataset_type BEFORE UPDATE ON agdc.dataset_type
    FOR EACH ROW EXECUTE PROCEDURE agdc.set_row_update_time();
CREATE TRIGGER row_update_time_dataset BEFORE UPDATE ON agdc.dataset
    FOR EACH ROW EXECUTE PROCEDURE agdc.set_row_update_time();
CREATE INDEX IF NOT EXISTS ix_dataset_updated ON agdc.dataset (updated);
CREATE INDEX IF NOT EXISTS ix_dataset_added ON agdc.dataset (added);
