-- datacube's grants, in datacube's order (the ACL order in pg_dump follows it). Run as agdc_admin.
GRANT USAGE ON SCHEMA agdc TO agdc_user;
GRANT SELECT ON ALL TABLES IN SCHEMA agdc TO agdc_user;
GRANT EXECUTE ON FUNCTION agdc.common_timestamp(text) TO agdc_user;
GRANT INSERT ON agdc.dataset, agdc.dataset_location, agdc.dataset_source TO agdc_ingest;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA agdc TO agdc_ingest;
GRANT INSERT, DELETE ON agdc.dataset_type, agdc.metadata_type TO agdc_manage;
GRANT CREATE ON SCHEMA agdc TO agdc_manage;
