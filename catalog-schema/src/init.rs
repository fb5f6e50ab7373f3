//! `etlake db init`: the ODC index exactly as `datacube system init` (1.9.20, postgres driver) makes it —
//! roles, the agdc schema owned by agdc_admin, grants, default metadata types and their views — plus etlake's schema.
use crate::error::DbContext;
use crate::{etlake_schema, metadata_type, Catalog, Result};

/// What `init` did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InitReport {
    /// True when the `agdc` schema was created now; false when it existed and was left untouched.
    pub created_agdc: bool,
    /// Default metadata types inserted (only into a new schema, as datacube does).
    pub metadata_types_added: Vec<String>,
    /// True when etlake's schema (version row) was created now.
    pub created_etlake: bool,
}

/// The default metadata types datacube inserts, in its order (ids 1, 2, 3).
pub const DEFAULT_METADATA_TYPES: [(&str, &str); 3] = [
    ("eo3", include_str!("default_metadata/eo3.json")),
    ("eo", include_str!("default_metadata/eo.json")),
    ("telemetry", include_str!("default_metadata/telemetry.json")),
];

/// Initialises the index. Idempotent: on an existing `agdc` schema (ours or datacube's) it changes
/// nothing there and only adds etlake's schema. Everything happens in one transaction.
pub fn init(catalog: &mut Catalog) -> Result<InitReport> {
    let mut report = InitReport::default();
    let agdc_exists = catalog.schema_exists("agdc")?;
    let client = catalog.client();
    let mut tx = client.transaction().ctx("starting the init transaction")?;
    if !agdc_exists {
        tx.batch_execute(include_str!("sql/agdc_roles.sql"))
            .ctx("creating roles agdc_user/agdc_ingest/agdc_manage/agdc_admin (needs a superuser or CREATEROLE)")?;
        let db: String = tx
            .query_one("SELECT quote_ident(current_database())", &[])
            .ctx("reading the database name")?
            .get(0);
        tx.batch_execute(&format!("GRANT ALL ON DATABASE {db} TO agdc_admin"))
            .ctx("granting the database to agdc_admin")?;
        tx.batch_execute("SET LOCAL ROLE agdc_admin")
            .ctx("switching to role agdc_admin (the connecting user must be a superuser or member of agdc_admin)")?;
        tx.batch_execute(include_str!("sql/agdc_schema.sql"))
            .ctx("creating schema agdc")?;
        tx.batch_execute(include_str!("sql/agdc_grants.sql"))
            .ctx("granting privileges on schema agdc")?;
        tx.batch_execute("RESET ROLE").ctx("resetting role")?;
        for (name, json) in DEFAULT_METADATA_TYPES {
            let definition: serde_json::Value =
                serde_json::from_str(json).expect("built-in metadata type is valid JSON");
            metadata_type::insert(&mut tx, name, &definition)?;
            report.metadata_types_added.push(name.to_string());
        }
        report.created_agdc = true;
    }
    report.created_etlake = etlake_schema::ensure(&mut tx)?;
    tx.commit().ctx("committing init")?;
    Ok(report)
}
