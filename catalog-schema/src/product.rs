//! Products (`agdc.dataset_type`): validation as datacube does it, add/update with datacube's
//! safe-change rules, the per-product `dix_*` indexes and `dv_<product>_dataset` view, list and show.
use crate::changes::{self, Change};
use crate::document::SourceDoc;
use crate::error::DbContext;
use crate::fields::{self, Scope};
use crate::metadata_type::{self, AddOutcome};
use crate::{Catalog, Error, Result};
use serde_json::Value;

const TOP_KEYS: [&str; 10] = [
    "name",
    "description",
    "metadata_type",
    "license",
    "metadata",
    "extra_dimensions",
    "storage",
    "load",
    "measurements",
    "managed",
];
const MEASUREMENT_KEYS: [&str; 10] = [
    "name",
    "dtype",
    "nodata",
    "scale_factor",
    "add_offset",
    "units",
    "aliases",
    "spectral_definition",
    "flags_definition",
    "extra_dim",
];
const DTYPES: [&str; 13] = [
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "complex64",
    "complex128",
];

/// `^\w+$` as Python understands it.
pub fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

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

/// Validates a product definition; errors name the object, the key and the rule.
pub fn validate(object: &str, doc: &Value) -> Result<()> {
    let name = doc.get("name").and_then(Value::as_str).unwrap_or("?");
    let invalid = |message: String| Error::Invalid {
        object: format!("{object}: product {name:?}"),
        message,
    };
    let obj = doc.as_object().ok_or_else(|| Error::Invalid {
        object: object.to_string(),
        message: "a product definition must be a mapping".into(),
    })?;
    for key in obj.keys() {
        let default_key = key.strip_prefix("default_").is_some_and(is_word);
        if !TOP_KEYS.contains(&key.as_str()) && !default_key {
            return Err(invalid(format!(
                "{key}: unknown key (allowed: {}, default_*)",
                TOP_KEYS.join(", ")
            )));
        }
        if default_key && !obj[key].is_object() {
            return Err(invalid(format!("{key}: expected a mapping")));
        }
    }
    match obj.get("name") {
        Some(Value::String(s)) if is_word(s) => {}
        Some(Value::String(s)) => {
            return Err(invalid(format!(
                "name: {s:?} must match ^\\w+$ (letters, digits, _)"
            )))
        }
        Some(_) => return Err(invalid("name: expected a string".into())),
        None => return Err(invalid("name: required".into())),
    }
    if !matches!(obj.get("description"), Some(Value::String(_))) {
        return Err(invalid("description: required, a string".into()));
    }
    match obj.get("metadata_type") {
        Some(Value::String(_)) => {}
        Some(inline @ Value::Object(_)) => {
            metadata_type::validate(&format!("{object}: metadata_type"), inline)?
        }
        Some(_) => {
            return Err(invalid(
                "metadata_type: expected a name or a metadata-type document".into(),
            ))
        }
        None => return Err(invalid("metadata_type: required (e.g. eo3)".into())),
    }
    if !obj.get("metadata").is_some_and(Value::is_object) {
        return Err(invalid(
            "metadata: required, the match signature, e.g. {product: {name: <name>}}".into(),
        ));
    }
    if let Some(l) = obj.get("license") {
        let ok = l.as_str().is_some_and(|s| {
            !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || "_-.+".contains(c))
        });
        if !ok {
            return Err(invalid(format!(
                "license: {l} must match ^[\\w\\-.+]+$ (an SPDX id, 'various' or 'proprietary')"
            )));
        }
    }
    if let Some(m) = obj.get("managed") {
        if !m.is_boolean() {
            return Err(invalid("managed: expected true or false".into()));
        }
    }
    if let Some(ms) = obj.get("measurements") {
        let list = ms
            .as_array()
            .ok_or_else(|| invalid("measurements: expected a list".into()))?;
        let mut seen: Vec<String> = Vec::new();
        for (i, m) in list.iter().enumerate() {
            let mname = m.get("name").and_then(Value::as_str).unwrap_or("?");
            let at = |rule: String| invalid(format!("measurements[{i}] ({mname}).{rule}"));
            validate_measurement(m).map_err(at)?;
            let aliases = m
                .get("aliases")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for n in std::iter::once(mname.to_string()).chain(
                aliases
                    .iter()
                    .filter_map(|a| a.as_str().map(str::to_string)),
            ) {
                if seen.contains(&n) {
                    return Err(at(format!(
                        "name/aliases: {n:?} is used twice in this product"
                    )));
                }
                seen.push(n);
            }
        }
    }
    if let Some(load) = obj.get("load") {
        validate_grid_hints("load", load, &["crs", "resolution", "align"], true)
            .map_err(invalid)?;
    }
    if let Some(storage) = obj.get("storage") {
        validate_grid_hints(
            "storage",
            storage,
            &[
                "chunking",
                "crs",
                "dimension_order",
                "resolution",
                "tile_size",
                "origin",
                "driver",
            ],
            false,
        )
        .map_err(invalid)?;
    }
    if let Some(extra) = obj.get("extra_dimensions") {
        let list = extra
            .as_array()
            .ok_or_else(|| invalid("extra_dimensions: expected a list".into()))?;
        for (i, d) in list.iter().enumerate() {
            let ok = d.get("name").is_some_and(Value::is_string)
                && d.get("values")
                    .and_then(Value::as_array)
                    .is_some_and(|v| v.iter().all(Value::is_number))
                && d.get("dtype")
                    .and_then(Value::as_str)
                    .is_some_and(|t| DTYPES.contains(&t))
                && d.as_object().is_some_and(|o| {
                    o.keys()
                        .all(|k| ["name", "values", "dtype"].contains(&k.as_str()))
                });
            if !ok {
                return Err(invalid(format!(
                    "extra_dimensions[{i}]: needs exactly name, values (numbers) and dtype"
                )));
            }
        }
    }
    Ok(())
}

fn validate_measurement(m: &Value) -> Result<(), String> {
    let obj = m.as_object().ok_or("expected a mapping")?;
    for key in obj.keys() {
        if !MEASUREMENT_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "{key}: unknown key (allowed: {})",
                MEASUREMENT_KEYS.join(", ")
            ));
        }
    }
    for key in ["name", "dtype", "nodata", "units"] {
        if !obj.contains_key(key) {
            return Err(format!("{key}: required"));
        }
    }
    match &obj["name"] {
        Value::String(s) if is_word(s) => {}
        other => return Err(format!("name: {other} must match ^\\w+$")),
    }
    let dtype = obj["dtype"]
        .as_str()
        .filter(|d| DTYPES.contains(d))
        .ok_or_else(|| {
            format!(
                "dtype: {} is not one of {}",
                obj["dtype"],
                DTYPES.join(", ")
            )
        })?;
    check_nodata(dtype, &obj["nodata"]).map_err(|m| format!("nodata: {m}"))?;
    if !obj["units"].is_string() {
        return Err("units: expected a string (e.g. '1', mm, K)".into());
    }
    for key in ["scale_factor", "add_offset"] {
        if obj.get(key).is_some_and(|v| !v.is_number()) {
            return Err(format!("{key}: expected a number"));
        }
    }
    if let Some(a) = obj.get("aliases") {
        if !a.as_array().is_some_and(|l| l.iter().all(Value::is_string)) {
            return Err("aliases: expected a list of strings".into());
        }
    }
    if let Some(e) = obj.get("extra_dim") {
        if !e.is_string() {
            return Err("extra_dim: expected a string".into());
        }
    }
    if let Some(flags) = obj.get("flags_definition") {
        let flags = flags
            .as_object()
            .ok_or("flags_definition: expected a mapping of flag name to definition")?;
        for (flag, def) in flags {
            let bits_ok = def
                .get("bits")
                .is_some_and(|b| b.is_number() || b.is_array());
            if !bits_ok {
                return Err(format!(
                    "flags_definition.{flag}.bits: required, a bit number or a list of them"
                ));
            }
            if !def.get("values").is_some_and(Value::is_object) {
                return Err(format!(
                    "flags_definition.{flag}.values: required, a mapping of value to meaning"
                ));
            }
            if def.get("description").is_some_and(|d| !d.is_string()) {
                return Err(format!(
                    "flags_definition.{flag}.description: expected a string"
                ));
            }
        }
    }
    Ok(())
}

/// Whether `nodata` can be stored in `dtype`: integers must be whole and in range; NaN/Inf need a float.
pub fn check_nodata(dtype: &str, nodata: &Value) -> Result<(), String> {
    let float = dtype.starts_with("float") || dtype.starts_with("complex");
    if let Value::String(s) = nodata {
        return match s.as_str() {
            "NaN" | "Inf" | "-Inf" | "Infinity" | "-Infinity" if float => Ok(()),
            "NaN" | "Inf" | "-Inf" | "Infinity" | "-Infinity" => {
                Err(format!("{s} is not representable in {dtype}"))
            }
            _ => Err(format!("{s:?} must be a number, NaN, Inf or -Inf")),
        };
    }
    let Value::Number(n) = nodata else {
        return Err(format!("{nodata} must be a number, NaN, Inf or -Inf"));
    };
    let v = n.as_f64().unwrap_or(f64::NAN);
    let range = |lo: f64, hi: f64| -> Result<(), String> {
        if v.fract() != 0.0 {
            Err(format!(
                "{n} is not a whole number, so not representable in {dtype}"
            ))
        } else if v < lo || v > hi {
            Err(format!("{n} is outside the range of {dtype} ({lo}..{hi})"))
        } else {
            Ok(())
        }
    };
    match dtype {
        "int8" => range(-128.0, 127.0),
        "int16" => range(-32768.0, 32767.0),
        "int32" => range(-2147483648.0, 2147483647.0),
        "int64" => range(-9.223372036854776e18, 9.223372036854776e18),
        "uint8" => range(0.0, 255.0),
        "uint16" => range(0.0, 65535.0),
        "uint32" => range(0.0, 4294967295.0),
        "uint64" => range(0.0, 1.8446744073709552e19),
        "float16" if v.abs() > 65504.0 => {
            Err(format!("{n} is outside the range of float16 (±65504)"))
        }
        "float32" | "complex64" if v.abs() > f32::MAX as f64 => {
            Err(format!("{n} is outside the range of float32"))
        }
        _ => Ok(()),
    }
}

/// How a CRS names its spatial dimensions, when etlake can tell without PROJ.
pub fn crs_dimensions(crs: &str) -> Option<[&'static str; 2]> {
    const GEOGRAPHIC: [&str; 12] = [
        "4326", "4269", "4258", "4283", "4167", "4674", "4617", "4322", "4230", "4019", "4148",
        "7844",
    ];
    let c = crs.trim();
    let upper = c.to_uppercase();
    if let Some(code) = upper.strip_prefix("EPSG:") {
        if GEOGRAPHIC.contains(&code) {
            return Some(["latitude", "longitude"]);
        }
        let n: u32 = code.parse().ok()?;
        let utm = (32601..=32660).contains(&n) || (32701..=32760).contains(&n);
        let known_projected =
            [3857, 3577, 6933, 5070, 3035, 3031, 3413, 2193, 3395, 8857].contains(&n);
        return (utm || known_projected).then_some(["y", "x"]);
    }
    if c.starts_with('+') || c.contains("+proj=") {
        return if [
            "+proj=longlat",
            "+proj=latlong",
            "+proj=lonlat",
            "+proj=latlon",
        ]
        .iter()
        .any(|p| c.contains(p))
        {
            Some(["latitude", "longitude"])
        } else if c.contains("+proj=") {
            Some(["y", "x"])
        } else {
            None
        };
    }
    if ["GEOGCS[", "GEOGCRS[", "GEODCRS[", "GEOGRAPHICCRS["]
        .iter()
        .any(|p| upper.starts_with(p))
    {
        return Some(["latitude", "longitude"]);
    }
    if ["PROJCS[", "PROJCRS[", "PROJECTEDCRS["]
        .iter()
        .any(|p| upper.starts_with(p))
    {
        return Some(["y", "x"]);
    }
    None
}

fn validate_grid_hints(
    section: &str,
    v: &Value,
    allowed: &[&str],
    required: bool,
) -> Result<(), String> {
    let obj = v
        .as_object()
        .ok_or(format!("{section}: expected a mapping"))?;
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(format!(
                "{section}.{key}: unknown key (allowed: {})",
                allowed.join(", ")
            ));
        }
    }
    if required {
        for key in ["crs", "resolution"] {
            if !obj.contains_key(key) {
                return Err(format!("{section}.{key}: required"));
            }
        }
    }
    let Some(crs) = obj.get("crs") else {
        return Ok(());
    };
    let crs = crs.as_str().ok_or(format!(
        "{section}.crs: expected a string such as EPSG:4326"
    ))?;
    for key in ["resolution", "align", "origin", "tile_size"] {
        let Some(m) = obj.get(key) else { continue };
        let m = m.as_object().ok_or(format!(
            "{section}.{key}: expected a mapping keyed by dimension name"
        ))?;
        if m.values().any(|x| !x.is_number()) {
            return Err(format!("{section}.{key}: values must be numbers"));
        }
        let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
        keys.sort();
        let expected: Vec<[&str; 2]> = match crs_dimensions(crs) {
            Some(d) => vec![d],
            None => vec![["latitude", "longitude"], ["y", "x"]],
        };
        let ok = expected.iter().any(|d| {
            let mut want = d.to_vec();
            want.sort();
            keys == want
        });
        if !ok {
            let names: Vec<String> = expected
                .iter()
                .map(|d| format!("{}/{}", d[0], d[1]))
                .collect();
            return Err(format!(
                "{section}.{key}: keys {keys:?} do not match the dimensions of {crs} ({})",
                names.join(" or ")
            ));
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"name": "p", "description": "d", "metadata_type": "eo3", "metadata": {"product": {"name": "p"}},
               "measurements": [{"name": "b", "dtype": "uint8", "nodata": 255, "units": "1"}],
               "load": {"crs": "EPSG:4326", "resolution": {"latitude": -0.1, "longitude": 0.1}}})
    }

    fn err(doc: &Value) -> String {
        validate("f.yaml", doc).unwrap_err().to_string()
    }

    #[test]
    fn a_valid_product_passes() {
        validate("f.yaml", &base()).unwrap();
    }

    #[test]
    fn nodata_must_fit_the_dtype() {
        let mut d = base();
        d["measurements"][0]["nodata"] = json!(300);
        let e = err(&d);
        assert!(
            e.contains("measurements[0] (b).nodata: 300 is outside the range of uint8"),
            "{e}"
        );
        d["measurements"][0]["nodata"] = json!("NaN");
        assert!(err(&d).contains("NaN is not representable in uint8"));
        d["measurements"][0]["dtype"] = json!("float32");
        validate("f.yaml", &d).unwrap();
        d["measurements"][0]["dtype"] = json!("int16");
        d["measurements"][0]["nodata"] = json!(-1.5);
        assert!(err(&d).contains("not a whole number"));
    }

    #[test]
    fn required_keys_and_patterns() {
        let mut d = base();
        d.as_object_mut().unwrap().remove("description");
        assert!(err(&d).contains("description: required"));
        let mut d = base();
        d["name"] = json!("bad-name");
        assert!(err(&d).contains("must match ^\\w+$"));
        let mut d = base();
        d["colour"] = json!("blue");
        assert!(err(&d).contains("colour: unknown key"));
        let mut d = base();
        d["license"] = json!("CC BY");
        assert!(err(&d).contains("license"));
    }

    #[test]
    fn load_hints_use_the_crs_dimension_names() {
        let mut d = base();
        d["load"]["resolution"] = json!({"y": -0.1, "x": 0.1});
        assert!(err(&d).contains("do not match the dimensions of EPSG:4326 (latitude/longitude)"));
        d["load"]["crs"] =
            json!("+proj=sinu +lon_0=0 +x_0=0 +y_0=0 +R=6371007.181 +units=m +no_defs");
        validate("f.yaml", &d).unwrap();
        d["load"]["crs"] = json!("EPSG:32633");
        validate("f.yaml", &d).unwrap();
    }
}
