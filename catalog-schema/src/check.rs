//! `etlake db check`: what `datacube system check` reports (version, where, who, valid connection),
//! plus whether the agdc and etlake schemas are complete and how much the index holds.
use crate::error::DbContext;
use crate::{etlake_schema, Catalog, Result};

/// Tables, functions and types `system init` creates; their absence means an incomplete index.
const AGDC_OBJECTS: [&str; 7] = [
    "agdc.metadata_type",
    "agdc.dataset_type",
    "agdc.dataset",
    "agdc.dataset_location",
    "agdc.dataset_source",
    "agdc.dv_eo3_dataset",
    "agdc.float8range",
];

/// The findings of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Postgres server version.
    pub server_version: String,
    /// The role connected as.
    pub user: String,
    /// The connection's TLS version and cipher (None when not encrypted).
    pub tls: Option<String>,
    /// The `agdc_*` roles the user belongs to (or `superuser`).
    pub roles: Vec<String>,
    /// Whether schema `agdc` exists.
    pub agdc_present: bool,
    /// Objects of a complete index that are missing.
    pub agdc_missing: Vec<String>,
    /// etlake schema version, if present.
    pub etlake_version: Option<i32>,
    /// Metadata types, products, active datasets, archived datasets, locations.
    pub counts: Vec<(String, i64)>,
}

impl CheckReport {
    /// True when the index is present, complete and of the expected etlake version.
    pub fn ok(&self) -> bool {
        self.agdc_present
            && self.agdc_missing.is_empty()
            && self.etlake_version == Some(etlake_schema::SCHEMA_VERSION)
    }
}

/// Inspects the index.
pub fn check(catalog: &mut Catalog) -> Result<CheckReport> {
    let mut r = CheckReport {
        agdc_present: catalog.schema_exists("agdc")?,
        ..Default::default()
    };
    let c = catalog.client();
    let row = c
        .query_one(
            "SELECT current_setting('server_version'), current_user::text, \
                    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), \
                    (SELECT version || ' ' || cipher FROM pg_stat_ssl \
                      WHERE pid = pg_backend_pid() AND ssl)",
            &[],
        )
        .ctx("reading server version")?;
    r.server_version = row.get(0);
    r.user = row.get(1);
    r.tls = row.get(3);
    if row.get::<_, bool>(2) {
        r.roles.push("superuser".into());
    }
    let roles = c
        .query(
            "SELECT r.rolname::text FROM pg_roles r WHERE r.rolname LIKE 'agdc\\_%' \
             AND pg_has_role(current_user, r.oid, 'MEMBER') ORDER BY r.rolname",
            &[],
        )
        .ctx("reading role memberships")?;
    r.roles
        .extend(roles.iter().map(|row| row.get::<_, String>(0)));
    if r.agdc_present {
        for obj in AGDC_OBJECTS {
            let present: bool = c
                .query_one(
                    "SELECT to_regclass($1) IS NOT NULL OR to_regtype($1) IS NOT NULL",
                    &[&obj],
                )
                .ctx("looking up schema objects")?
                .get(0);
            if !present {
                r.agdc_missing.push(obj.to_string());
            }
        }
        let fn_ok: bool = c
            .query_one(
                "SELECT to_regprocedure('agdc.common_timestamp(text)') IS NOT NULL",
                &[],
            )
            .ctx("looking up agdc.common_timestamp")?
            .get(0);
        if !fn_ok {
            r.agdc_missing.push("agdc.common_timestamp(text)".into());
        }
        if r.agdc_missing
            .iter()
            .all(|m| !m.starts_with("agdc.dataset") && !m.starts_with("agdc.metadata"))
        {
            let row = c
                .query_one(
                    "SELECT (SELECT count(*) FROM agdc.metadata_type), (SELECT count(*) FROM agdc.dataset_type), \
                     (SELECT count(*) FROM agdc.dataset WHERE archived IS NULL), \
                     (SELECT count(*) FROM agdc.dataset WHERE archived IS NOT NULL), \
                     (SELECT count(*) FROM agdc.dataset_location WHERE archived IS NULL)",
                    &[],
                )
                .ctx("counting index rows")?;
            for (i, name) in [
                "metadata types",
                "products",
                "active datasets",
                "archived datasets",
                "locations",
            ]
            .iter()
            .enumerate()
            {
                r.counts.push((name.to_string(), row.get(i)));
            }
        }
    }
    r.etlake_version = etlake_schema::version(c)?;
    Ok(r)
}
