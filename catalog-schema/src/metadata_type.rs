//! Metadata types: validation as datacube does it (`metadata-type-schema.yaml` plus its field parser),
//! storing them with their `dv_<name>_dataset` view, and listing them.
use crate::changes;
use crate::error::DbContext;
use crate::fields::{self, Scope};
use crate::{Catalog, Error, Result};
use serde_json::Value;

/// A metadata type as stored in `agdc.metadata_type`.
#[derive(Debug, Clone)]
pub struct StoredMetadataType {
    /// Row id.
    pub id: i16,
    /// Name.
    pub name: String,
    /// The stored definition, keys in jsonb order.
    pub definition: Value,
}

/// What adding a document did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddOutcome {
    /// Inserted.
    Added,
    /// Already present with an identical definition; nothing written.
    Unchanged,
}

/// `^\w+$` as Python understands it.
pub fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Validates a metadata-type document; the error names the object, the key and the rule.
pub fn validate(object: &str, doc: &Value) -> Result<()> {
    let invalid = |message: String| Error::Invalid {
        object: object.to_string(),
        message,
    };
    let obj = doc
        .as_object()
        .ok_or_else(|| invalid("a metadata type must be a mapping".into()))?;
    for key in obj.keys() {
        if !["name", "description", "dataset"].contains(&key.as_str()) {
            return Err(invalid(format!(
                "{key}: unknown key (allowed: name, description, dataset)"
            )));
        }
    }
    let name = match obj.get("name") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(invalid("name: expected a string".into())),
        None => return Err(invalid("name: required".into())),
    };
    if !is_word(name) {
        return Err(invalid(format!(
            "name: {name:?} must match ^\\w+$ (letters, digits, _)"
        )));
    }
    if !matches!(obj.get("description"), Some(Value::String(_))) {
        return Err(invalid(format!(
            "metadata type {name:?}: description: required, a string"
        )));
    }
    let dataset = obj
        .get("dataset")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            invalid(format!(
                "metadata type {name:?}: dataset: required, a mapping"
            ))
        })?;
    const ALLOWED: [&str; 8] = [
        "id",
        "creation_dt",
        "label",
        "sources",
        "measurements",
        "format",
        "grid_spatial",
        "search_fields",
    ];
    for key in dataset.keys() {
        if !ALLOWED.contains(&key.as_str()) {
            return Err(invalid(format!(
                "metadata type {name:?}: dataset.{key}: unknown key (allowed: {})",
                ALLOWED.join(", ")
            )));
        }
    }
    for key in ["id", "creation_dt", "label", "sources", "search_fields"] {
        if !dataset.contains_key(key) {
            return Err(invalid(format!(
                "metadata type {name:?}: dataset.{key}: required"
            )));
        }
    }
    fields::dataset_fields(doc).map_err(|m| invalid(format!("metadata type {name:?}: {m}")))?;
    Ok(())
}

/// Inserts a metadata type (DEFAULT id) and creates its view as `agdc_manage`, inside a transaction.
pub fn insert(tx: &mut postgres::Transaction<'_>, name: &str, definition: &Value) -> Result<i16> {
    let row = tx
        .query_one(
            "INSERT INTO agdc.metadata_type (name, definition) VALUES ($1, $2) RETURNING id, definition::text",
            &[&name, definition],
        )
        .ctx(format!("inserting metadata type {name}"))?;
    let id: i16 = row.get(0);
    // Views follow the stored (jsonb) key order, as datacube's do once it reads the type back.
    let stored: Value = serde_json::from_str(row.get::<_, &str>(1)).expect("jsonb text is JSON");
    let fields = fields::dataset_fields(&stored).map_err(|m| Error::Invalid {
        object: format!("metadata type {name}"),
        message: m,
    })?;
    tx.batch_execute("SET LOCAL ROLE agdc_manage")
        .ctx("switching to role agdc_manage")?;
    tx.batch_execute(&fields::view_ddl(name, &fields, Scope::MetadataType(id)))
        .ctx(format!("creating view {}", fields::view_name(name)))?;
    tx.batch_execute("RESET ROLE").ctx("resetting role")?;
    Ok(id)
}

/// Adds a validated metadata type; identical re-adds are no-ops, different ones are refused.
pub fn add(catalog: &mut Catalog, object: &str, doc: &Value) -> Result<AddOutcome> {
    validate(object, doc)?;
    let name = doc["name"].as_str().unwrap_or_default().to_string();
    if let Some(existing) = get(catalog, &name)? {
        let diffs = changes::diff(&existing.definition, doc);
        if diffs.is_empty() {
            return Ok(AddOutcome::Unchanged);
        }
        return Err(Error::Conflict {
            object: format!("{object}: metadata type {name:?}"),
            message: format!(
                "differs from the stored definition ({}); nothing was written",
                changes::describe(&diffs)
            ),
        });
    }
    let mut tx = catalog.client().transaction().ctx("starting transaction")?;
    insert(&mut tx, &name, doc)?;
    tx.commit()
        .ctx(format!("committing metadata type {name}"))?;
    Ok(AddOutcome::Added)
}

/// One metadata type by name.
pub fn get(catalog: &mut Catalog, name: &str) -> Result<Option<StoredMetadataType>> {
    let row = catalog
        .client()
        .query_opt(
            "SELECT id, name, definition::text FROM agdc.metadata_type WHERE name = $1",
            &[&name],
        )
        .ctx(format!("reading metadata type {name}"))?;
    Ok(row.map(|r| stored(&r)))
}

/// All metadata types, by name.
pub fn list(catalog: &mut Catalog) -> Result<Vec<StoredMetadataType>> {
    let rows = catalog
        .client()
        .query(
            "SELECT id, name, definition::text FROM agdc.metadata_type ORDER BY name",
            &[],
        )
        .ctx("listing metadata types")?;
    Ok(rows.iter().map(stored).collect())
}

fn stored(r: &postgres::Row) -> StoredMetadataType {
    StoredMetadataType {
        id: r.get(0),
        name: r.get(1),
        definition: serde_json::from_str(r.get::<_, &str>(2)).expect("jsonb text is JSON"),
    }
}
