//! Products (`agdc.dataset_type`): add/update (validated by `product_rules`) with datacube's
//! safe-change rules, the per-product `dix_*` indexes and `dv_<product>_dataset` view, list and show.
use crate::changes::{self, Change};
use crate::document::SourceDoc;
use crate::error::DbContext;
use crate::fields::{self, Scope};
use crate::metadata_type::{self, AddOutcome};
use crate::{Catalog, Error, Result};
use serde_json::Value;

pub use crate::metadata_type::is_word;
pub use crate::product_rules::{check_nodata, crs_dimensions, validate};

/// A product row.
#[derive(Debug, Clone)]
pub struct StoredProduct {
    /// Row id.
    pub id: i16,
    /// Name.
    pub name: String,
    /// Name of its metadata type.
    pub metadata_type: String,
    /// The stored definition.
    pub definition: Value,
    /// Active (not archived) datasets.
    pub active_datasets: i64,
}

/// A validated product ready to write: its definition and the metadata type it needs.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The file/document it came from.
    pub object: String,
    /// Product name.
    pub name: String,
    /// The definition to store.
    pub definition: Value,
    metadata_type_name: String,
    inline_metadata_type: Option<Value>,
    /// What the index holds under this name today.
    pub existing: Option<StoredProduct>,
    /// Differences from the stored definition (empty when new or identical).
    pub changes: Vec<Change>,
}

/// Validates a product document against the rules and the index (its metadata type must exist,
/// or be given inline), and compares it with what is stored under its name. Writes nothing.
pub fn prepare(catalog: &mut Catalog, doc: &SourceDoc) -> Result<Prepared> {
    validate(&doc.object, &doc.value)?;
    let name = doc.value["name"].as_str().unwrap_or_default().to_string();
    let (metadata_type_name, inline) = match &doc.value["metadata_type"] {
        Value::String(s) => (s.clone(), None),
        inline => (
            inline["name"].as_str().unwrap_or_default().to_string(),
            Some(inline.clone()),
        ),
    };
    if inline.is_none() && metadata_type::get(catalog, &metadata_type_name)?.is_none() {
        let known: Vec<String> = metadata_type::list(catalog)?
            .into_iter()
            .map(|m| m.name)
            .collect();
        return Err(Error::NotFound {
            object: format!("{}: product {name:?}", doc.object),
            message: format!(
                "metadata_type: unknown metadata type {metadata_type_name:?} (the index has: {}); \
                 add it first with `etlake metadata add`",
                known.join(", ")
            ),
        });
    }
    let existing = get(catalog, &name)?;
    let changes = existing
        .as_ref()
        .map(|e| changes::diff(&e.definition, &doc.value))
        .unwrap_or_default();
    Ok(Prepared {
        object: doc.object.clone(),
        name,
        definition: doc.value.clone(),
        metadata_type_name,
        inline_metadata_type: inline,
        existing,
        changes,
    })
}

/// Adds products. All documents are prepared first: if any is invalid, or differs from a stored
/// product of the same name, nothing is written. Identical re-adds are reported `Unchanged`.
pub fn add(catalog: &mut Catalog, docs: &[SourceDoc]) -> Result<Vec<(String, AddOutcome)>> {
    let prepared: Vec<Prepared> = docs
        .iter()
        .map(|d| prepare(catalog, d))
        .collect::<Result<_>>()?;
    for (k, p) in prepared.iter().enumerate() {
        if let Some(first) = prepared[..k].iter().find(|q| q.name == p.name) {
            return Err(Error::Conflict {
                object: format!("{}: product {:?}", p.object, p.name),
                message: format!(
                    "also defined in {}; one definition per product name",
                    first.object
                ),
            });
        }
    }
    for p in &prepared {
        if p.existing.is_some() && !p.changes.is_empty() {
            return Err(Error::Conflict {
                object: format!("{}: product {:?}", p.object, p.name),
                message: format!(
                    "already in the index with a different definition ({}); nothing was written. \
                     Use `etlake product update` (safe changes) or `--allow-unsafe`",
                    changes::describe(&p.changes)
                ),
            });
        }
    }
    let mut outcomes = Vec::new();
    let mut new_ids = Vec::new();
    let mut tx = catalog.client().transaction().ctx("starting transaction")?;
    for p in &prepared {
        if p.existing.is_some() {
            outcomes.push((p.name.clone(), AddOutcome::Unchanged));
            continue;
        }
        let mdt_id = ensure_metadata_type(&mut tx, p)?;
        let id: i16 = tx
            .query_one(
                "INSERT INTO agdc.dataset_type (name, metadata, metadata_type_ref, definition) \
                 VALUES ($1, $2, $3, $4) RETURNING id",
                &[&p.name, &p.definition["metadata"], &mdt_id, &p.definition],
            )
            .ctx(format!("inserting product {}", p.name))?
            .get(0);
        create_view(&mut tx, &p.name, id, mdt_id)?;
        new_ids.push((p.name.clone(), id));
        outcomes.push((p.name.clone(), AddOutcome::Added));
    }
    tx.commit().ctx("committing products")?;
    for (name, id) in new_ids {
        ensure_indexes(catalog, &name, id)?;
    }
    Ok(outcomes)
}

/// What `update` did to one product.
#[derive(Debug, Clone)]
pub struct UpdateOutcome {
    /// Product name.
    pub name: String,
    /// Changes applied that datacube considers safe.
    pub safe: Vec<Change>,
    /// Unsafe changes applied (only with `allow_unsafe`).
    pub unsafe_applied: Vec<Change>,
}

/// Updates stored products with datacube's safe-change rules; unsafe changes need `allow_unsafe`.
/// All documents are checked first; on any refusal nothing is written.
pub fn update(
    catalog: &mut Catalog,
    docs: &[SourceDoc],
    allow_unsafe: bool,
    dry_run: bool,
) -> Result<Vec<UpdateOutcome>> {
    let prepared: Vec<Prepared> = docs
        .iter()
        .map(|d| prepare(catalog, d))
        .collect::<Result<_>>()?;
    let mut plans = Vec::new();
    for p in prepared {
        if p.existing.is_none() {
            return Err(Error::NotFound {
                object: format!("{}: product {:?}", p.object, p.name),
                message:
                    "not in the index, so it cannot be updated; did you mean `etlake product add`?"
                        .into(),
            });
        }
        let (safe, bad) = changes::classify_product_changes(p.changes.clone());
        if !bad.is_empty() && !allow_unsafe {
            return Err(Error::Conflict {
                object: format!("{}: product {:?}", p.object, p.name),
                message: format!(
                    "unsafe changes ({}); nothing was written. They may make existing datasets \
                     inconsistent; pass --allow-unsafe to apply them anyway",
                    changes::describe(&bad)
                ),
            });
        }
        plans.push((p, safe, bad));
    }
    let mut outcomes = Vec::new();
    if dry_run {
        return Ok(plans
            .into_iter()
            .map(|(p, safe, bad)| UpdateOutcome {
                name: p.name,
                safe,
                unsafe_applied: bad,
            })
            .collect());
    }
    let mut reindex = Vec::new();
    let mut tx = catalog.client().transaction().ctx("starting transaction")?;
    for (p, safe, bad) in plans {
        let existing = p.existing.as_ref().expect("checked above");
        if !p.changes.is_empty() {
            let mdt_id = ensure_metadata_type(&mut tx, &p)?;
            tx.execute(
                "UPDATE agdc.dataset_type SET metadata = $1, metadata_type_ref = $2, definition = $3 WHERE name = $4",
                &[&p.definition["metadata"], &mdt_id, &p.definition, &p.name],
            )
            .ctx(format!("updating product {}", p.name))?;
            if p.metadata_type_name != existing.metadata_type {
                tx.execute(
                    "UPDATE agdc.dataset SET metadata_type_ref = $1 WHERE dataset_type_ref = $2",
                    &[&mdt_id, &existing.id],
                )
                .ctx(format!(
                    "moving datasets of {} to metadata type {}",
                    p.name, p.metadata_type_name
                ))?;
            }
            tx.batch_execute("SET LOCAL ROLE agdc_manage")
                .ctx("switching to role agdc_manage")?;
            tx.batch_execute(&format!(
                "DROP VIEW IF EXISTS {}",
                fields::view_name(&p.name)
            ))
            .ctx(format!("dropping view of {}", p.name))?;
            tx.batch_execute("RESET ROLE").ctx("resetting role")?;
            create_view(&mut tx, &p.name, existing.id, mdt_id)?;
        }
        reindex.push((p.name.clone(), existing.id));
        outcomes.push(UpdateOutcome {
            name: p.name,
            safe,
            unsafe_applied: bad,
        });
    }
    tx.commit().ctx("committing product updates")?;
    for (name, id) in reindex {
        ensure_indexes(catalog, &name, id)?;
    }
    Ok(outcomes)
}

fn ensure_metadata_type(tx: &mut postgres::Transaction<'_>, p: &Prepared) -> Result<i16> {
    let row = tx
        .query_opt(
            "SELECT id FROM agdc.metadata_type WHERE name = $1",
            &[&p.metadata_type_name],
        )
        .ctx(format!("reading metadata type {}", p.metadata_type_name))?;
    match (row, &p.inline_metadata_type) {
        (Some(r), _) => Ok(r.get(0)),
        (None, Some(inline)) => metadata_type::insert(tx, &p.metadata_type_name, inline),
        (None, None) => Err(Error::NotFound {
            object: format!("{}: product {:?}", p.object, p.name),
            message: format!(
                "metadata type {:?} disappeared during the update",
                p.metadata_type_name
            ),
        }),
    }
}

fn metadata_type_fields(
    tx: &mut postgres::Transaction<'_>,
    mdt_id: i16,
) -> Result<Vec<fields::SearchField>> {
    let row = tx
        .query_one(
            "SELECT name, definition::text FROM agdc.metadata_type WHERE id = $1",
            &[&mdt_id],
        )
        .ctx("reading metadata type")?;
    let name: String = row.get(0);
    let definition: Value =
        serde_json::from_str(row.get::<_, &str>(1)).expect("jsonb text is JSON");
    fields::dataset_fields(&definition).map_err(|m| Error::Invalid {
        object: format!("metadata type {name}"),
        message: m,
    })
}

fn create_view(tx: &mut postgres::Transaction<'_>, name: &str, id: i16, mdt_id: i16) -> Result<()> {
    let fields = metadata_type_fields(tx, mdt_id)?;
    tx.batch_execute("SET LOCAL ROLE agdc_manage")
        .ctx("switching to role agdc_manage")?;
    tx.batch_execute(&fields::view_ddl(name, &fields, Scope::Product(id)))
        .ctx(format!("creating view {}", fields::view_name(name)))?;
    tx.batch_execute(&format!(
        "DROP VIEW IF EXISTS agdc.{}_dataset",
        name.to_lowercase()
    ))
    .ctx("dropping a legacy view")?;
    tx.batch_execute("RESET ROLE").ctx("resetting role")?;
    Ok(())
}

/// Creates the product's missing `dix_*` indexes as `agdc_admin`, `CONCURRENTLY` (no table lock), as
/// datacube does at `product add`: building them now is cheap, after a bulk load it is not.
pub fn ensure_indexes(catalog: &mut Catalog, name: &str, id: i16) -> Result<Vec<String>> {
    let client = catalog.client();
    let row = client
        .query_one(
            "SELECT p.metadata::text, m.name, m.definition::text FROM agdc.dataset_type p \
             JOIN agdc.metadata_type m ON m.id = p.metadata_type_ref WHERE p.id = $1",
            &[&id],
        )
        .ctx(format!("reading product {name}"))?;
    let signature: Value = serde_json::from_str(row.get::<_, &str>(0)).expect("jsonb text is JSON");
    let mdt_name: String = row.get(1);
    let definition: Value =
        serde_json::from_str(row.get::<_, &str>(2)).expect("jsonb text is JSON");
    let fields = fields::dataset_fields(&definition).map_err(|m| Error::Invalid {
        object: format!("metadata type {mdt_name}"),
        message: m,
    })?;
    let mut created = Vec::new();
    client
        .batch_execute("SET ROLE agdc_admin")
        .ctx("switching to role agdc_admin")?;
    let result = (|| -> Result<()> {
        for ix in fields::product_indexes(name, id, &fields, &signature) {
            let present: bool = client
                .query_one(
                    "SELECT to_regclass($1) IS NOT NULL OR to_regclass($2) IS NOT NULL",
                    &[
                        &format!("agdc.{}", ix.name),
                        &format!("agdc.{}", ix.legacy_name),
                    ],
                )
                .ctx("looking up index")?
                .get(0);
            if !present {
                client.batch_execute(&ix.ddl).ctx(format!(
                    "creating index {} (re-run `etlake product update` on this product to retry)",
                    ix.name
                ))?;
                created.push(ix.name);
            }
        }
        Ok(())
    })();
    client.batch_execute("RESET ROLE").ctx("resetting role")?;
    result.map(|_| created)
}

/// One product by name.
pub fn get(catalog: &mut Catalog, name: &str) -> Result<Option<StoredProduct>> {
    Ok(query(catalog, Some(name))?.into_iter().next())
}

/// One product by name, or the error every interface reports for an unknown product.
pub fn require(catalog: &mut Catalog, name: &str) -> Result<StoredProduct> {
    get(catalog, name)?.ok_or_else(|| Error::NotFound {
        object: format!("product {name:?}"),
        message: "not in the index (see `etlake product list`)".into(),
    })
}

/// All products, by name.
pub fn list(catalog: &mut Catalog) -> Result<Vec<StoredProduct>> {
    query(catalog, None)
}

fn query(catalog: &mut Catalog, name: Option<&str>) -> Result<Vec<StoredProduct>> {
    let rows = catalog
        .client()
        .query(
            "SELECT p.id, p.name, m.name, p.definition::text, \
               (SELECT count(*) FROM agdc.dataset d WHERE d.dataset_type_ref = p.id AND d.archived IS NULL) \
             FROM agdc.dataset_type p JOIN agdc.metadata_type m ON m.id = p.metadata_type_ref \
             WHERE $1::text IS NULL OR p.name = $1 ORDER BY p.name",
            &[&name],
        )
        .ctx("reading products")?;
    Ok(rows
        .iter()
        .map(|r| StoredProduct {
            id: r.get(0),
            name: r.get(1),
            metadata_type: r.get(2),
            definition: serde_json::from_str(r.get::<_, &str>(3)).expect("jsonb text is JSON"),
            active_datasets: r.get(4),
        })
        .collect())
}

/// A definition as YAML, top-level keys in the order people write them (jsonb sorts them by length).
pub fn to_yaml(definition: &Value) -> String {
    let ordered = match definition.as_object() {
        Some(obj) => {
            let order = [
                "name",
                "description",
                "metadata_type",
                "license",
                "metadata",
                "dataset",
                "measurements",
                "load",
                "storage",
                "extra_dimensions",
                "managed",
            ];
            let mut keys: Vec<&String> = obj.keys().collect();
            keys.sort_by_key(|k| order.iter().position(|o| o == k).unwrap_or(order.len()));
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), obj[k].clone()))
                    .collect(),
            )
        }
        None => definition.clone(),
    };
    serde_yaml_ng::to_string(&ordered).unwrap_or_else(|_| definition.to_string())
}

/// The measurement names of a definition.
pub fn measurement_names(definition: &Value) -> Vec<String> {
    definition
        .get("measurements")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|m| m.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
