//! Search fields of a metadata type and the SQL datacube derives from them: the expressions of its
//! search, the `dix_*` indexes of each product and the `dv_*` views. Expressions must match Python's
//! exactly, or the planner will not use the indexes for Python's queries.
use serde_json::Value;

/// The value type of a search field (`type:` in the metadata type; `string` when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Text at an offset (several offsets: the first non-null).
    String,
    /// `CAST(… AS INTEGER)`.
    Integer,
    /// `CAST(… AS DOUBLE PRECISION)`.
    Double,
    /// `agdc.common_timestamp(…)`.
    Datetime,
    /// `numrange` of numerics (`numeric-range`, legacy `float-range`).
    NumericRange,
    /// `numrange` of integers.
    IntegerRange,
    /// `agdc.float8range`.
    DoubleRange,
    /// `tstzrange` of `agdc.common_timestamp`.
    DatetimeRange,
}

impl FieldType {
    /// Parses a `type:` value; datacube's legacy driver knows exactly these names.
    pub fn parse(name: &str) -> Option<FieldType> {
        Some(match name {
            "string" => FieldType::String,
            "integer" => FieldType::Integer,
            "double" => FieldType::Double,
            "datetime" => FieldType::Datetime,
            "numeric-range" | "float-range" => FieldType::NumericRange,
            "integer-range" => FieldType::IntegerRange,
            "double-range" => FieldType::DoubleRange,
            "datetime-range" => FieldType::DatetimeRange,
            _ => return None,
        })
    }

    /// The type names accepted, for error messages.
    pub const NAMES: &'static str =
        "string, integer, double, datetime, numeric-range, float-range, integer-range, double-range, datetime-range";

    fn is_range(self) -> bool {
        matches!(
            self,
            FieldType::NumericRange
                | FieldType::IntegerRange
                | FieldType::DoubleRange
                | FieldType::DatetimeRange
        )
    }
}

/// A path into the dataset document, e.g. `["properties", "eo:platform"]`.
pub type Offset = Vec<String>;

/// One search field of a metadata type.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchField {
    /// Field name (`lat`, `time`, `region_code`).
    pub name: String,
    /// Value type.
    pub kind: FieldType,
    /// Whether datacube builds a `dix_*` index for it (default true; the fixed fields are never indexed).
    pub indexed: bool,
    /// Offsets of a scalar field.
    pub offsets: Vec<Offset>,
    /// Lower-bound offsets of a range field.
    pub min_offsets: Vec<Offset>,
    /// Upper-bound offsets of a range field.
    pub max_offsets: Vec<Offset>,
}

impl SearchField {
    /// The SQL expression of this field over `<column>` (e.g. `agdc.dataset.metadata` or `metadata`).
    pub fn sql(&self, column: &str) -> String {
        if self.kind.is_range() {
            let lo = aggregate("least", &self.min_offsets, column, self.bound_cast());
            let hi = aggregate("greatest", &self.max_offsets, column, self.bound_cast());
            match self.kind {
                FieldType::DoubleRange => format!("agdc.float8range({lo}, {hi}, '[]')"),
                FieldType::DatetimeRange => format!("tstzrange({lo}, {hi}, '[]')"),
                _ => format!("numrange({lo}, {hi}, '[]')"),
            }
        } else {
            let cast = match self.kind {
                FieldType::Integer => Cast::Integer,
                FieldType::Double => Cast::Double,
                FieldType::Datetime => Cast::Timestamp,
                _ => Cast::None,
            };
            aggregate("coalesce", &self.offsets, column, cast)
        }
    }

    fn bound_cast(&self) -> Cast {
        match self.kind {
            FieldType::NumericRange => Cast::Numeric,
            FieldType::IntegerRange => Cast::Integer,
            FieldType::DoubleRange => Cast::Double,
            _ => Cast::Timestamp,
        }
    }

    /// Index method datacube uses for a single-field index.
    pub fn index_method(&self) -> &'static str {
        if self.kind.is_range() {
            "gist"
        } else {
            "btree"
        }
    }

    /// Reads this field's value from a document (used to find fields a product's signature fixes).
    pub fn extract<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        let lookup = |o: &Offset| {
            o.iter()
                .try_fold(doc, |v, k| v.get(k))
                .filter(|v| !v.is_null())
        };
        if self.kind.is_range() {
            self.min_offsets
                .iter()
                .chain(&self.max_offsets)
                .find_map(lookup)
        } else {
            self.offsets.iter().find_map(lookup)
        }
    }
}

#[derive(Clone, Copy)]
enum Cast {
    None,
    Integer,
    Numeric,
    Double,
    Timestamp,
}

fn aggregate(func: &str, offsets: &[Offset], column: &str, cast: Cast) -> String {
    let parts: Vec<String> = offsets
        .iter()
        .map(|o| {
            let text = format!("{column} #>> {}", path_literal(o));
            match cast {
                Cast::None => text,
                Cast::Integer => format!("CAST({text} AS INTEGER)"),
                Cast::Numeric => format!("CAST({text} AS NUMERIC)"),
                Cast::Double => format!("CAST({text} AS DOUBLE PRECISION)"),
                Cast::Timestamp => format!("agdc.common_timestamp({text})"),
            }
        })
        .collect();
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("{func}({})", parts.join(", "))
    }
}

/// A `text[]` literal for a JSON path, every element quoted so any key is safe.
fn path_literal(offset: &[String]) -> String {
    let elems: Vec<String> = offset
        .iter()
        .map(|e| format!("\"{}\"", e.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("'{{{}}}'", elems.join(", ").replace('\'', "''"))
}

/// The fields datacube derives for a metadata type, in datacube's order: the fixed `creation_time`,
/// `format` and `label`, then `search_fields` in the order of the stored (jsonb) definition.
pub fn dataset_fields(definition: &Value) -> Result<Vec<SearchField>, String> {
    let dataset = definition.get("dataset").ok_or("dataset: required")?;
    let fixed = |key: &str, default: &[&str]| -> Result<Offset, String> {
        match dataset.get(key) {
            Some(v) => offset_of(v).map_err(|m| format!("dataset.{key}: {m}")),
            None => Ok(default.iter().map(|s| s.to_string()).collect()),
        }
    };
    let simple = |name: &str, kind, offset: Offset| SearchField {
        name: name.into(),
        kind,
        indexed: false,
        offsets: vec![offset],
        min_offsets: vec![],
        max_offsets: vec![],
    };
    let mut fields = vec![
        simple(
            "creation_time",
            FieldType::Datetime,
            fixed("creation_dt", &["creation_dt"])?,
        ),
        simple(
            "format",
            FieldType::String,
            fixed("format", &["format", "name"])?,
        ),
        simple("label", FieldType::String, fixed("label", &["label"])?),
    ];
    let search = dataset
        .get("search_fields")
        .and_then(Value::as_object)
        .ok_or("dataset.search_fields: required, a mapping of field name to field")?;
    for (name, spec) in search {
        let at = |m: String| format!("dataset.search_fields.{name}: {m}");
        let field = parse_field(name, spec).map_err(at)?;
        match fields.iter_mut().find(|f| f.name == *name) {
            Some(slot) => *slot = field,
            None => fields.push(field),
        }
    }
    Ok(fields)
}

fn parse_field(name: &str, spec: &Value) -> Result<SearchField, String> {
    let obj = spec.as_object().ok_or("expected a mapping")?;
    for key in obj.keys() {
        if ![
            "description",
            "offset",
            "type",
            "indexed",
            "min_offset",
            "max_offset",
        ]
        .contains(&key.as_str())
        {
            return Err(format!("unknown key {key:?} (allowed: description, offset, type, indexed, min_offset, max_offset)"));
        }
    }
    let type_name = match obj.get("type") {
        None => "string",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err("type: expected a string".into()),
    };
    let kind = FieldType::parse(type_name).ok_or_else(|| {
        format!(
            "type: unknown type {type_name:?}; known: {}",
            FieldType::NAMES
        )
    })?;
    let indexed = match obj.get("indexed") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(_) => return Err("indexed: expected true or false".into()),
    };
    let list = |key: &str| -> Result<Vec<Offset>, String> {
        let v = obj
            .get(key)
            .ok_or(format!("{key}: required for a {type_name} field"))?;
        let arr = v
            .as_array()
            .ok_or(format!("{key}: expected a list of offsets"))?;
        if arr.is_empty() {
            return Err(format!("{key}: needs at least one offset"));
        }
        arr.iter()
            .map(|o| offset_of(o).map_err(|m| format!("{key}: {m}")))
            .collect()
    };
    let mut f = SearchField {
        name: name.into(),
        kind,
        indexed,
        offsets: vec![],
        min_offsets: vec![],
        max_offsets: vec![],
    };
    if kind.is_range() {
        if obj.contains_key("offset") {
            return Err(format!(
                "offset: a {type_name} field takes min_offset and max_offset"
            ));
        }
        f.min_offsets = list("min_offset")?;
        f.max_offsets = list("max_offset")?;
    } else {
        if obj.contains_key("min_offset") || obj.contains_key("max_offset") {
            return Err(format!(
                "min_offset/max_offset: a {type_name} field takes offset"
            ));
        }
        let v = obj
            .get("offset")
            .ok_or(format!("offset: required for a {type_name} field"))?;
        // A single offset (list of strings) or several (list of lists).
        f.offsets = match v.as_array() {
            Some(a) if a.iter().all(Value::is_array) && !a.is_empty() => a
                .iter()
                .map(offset_of)
                .collect::<Result<_, _>>()
                .map_err(|m| format!("offset: {m}"))?,
            _ => vec![offset_of(v).map_err(|m| format!("offset: {m}"))?],
        };
    }
    Ok(f)
}

fn offset_of(v: &Value) -> Result<Offset, String> {
    let arr = v
        .as_array()
        .ok_or("expected a list of keys, e.g. [properties, eo:platform]")?;
    if arr.is_empty() {
        return Err("an offset needs at least one key".into());
    }
    arr.iter()
        .map(|k| {
            k.as_str()
                .map(str::to_string)
                .ok_or_else(|| "offset keys must be strings".to_string())
        })
        .collect()
}

/// What a `dv_*` view or `dix_*` index filters on.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// All active datasets of a metadata type (by id).
    MetadataType(i16),
    /// All active datasets of a product (by id).
    Product(i16),
}

/// `CREATE VIEW agdc.dv_<name>_dataset …` exactly as datacube's view (native columns, then fields).
pub fn view_ddl(name: &str, fields: &[SearchField], scope: Scope) -> String {
    let mut cols = vec![
        "agdc.dataset.id AS id".to_string(),
        "agdc.dataset.added AS indexed_time".into(),
        "agdc.dataset.added_by AS indexed_by".into(),
        "agdc.dataset_type.name AS product".into(),
        "agdc.dataset.dataset_type_ref AS product_id".into(),
        "agdc.metadata_type.name AS metadata_type".into(),
        "agdc.dataset.metadata_type_ref AS metadata_type_id".into(),
        "agdc.dataset.metadata AS metadata_doc".into(),
    ];
    for f in fields {
        cols.push(format!(
            "{} AS {}",
            f.sql("agdc.dataset.metadata"),
            quote_ident(&f.name)
        ));
    }
    let filter = match scope {
        Scope::MetadataType(id) => format!("agdc.dataset.metadata_type_ref = {id}"),
        Scope::Product(id) => format!("agdc.dataset.dataset_type_ref = {id}"),
    };
    format!(
        "CREATE VIEW {} AS SELECT {} FROM agdc.dataset \
         JOIN agdc.dataset_type ON agdc.dataset_type.id = agdc.dataset.dataset_type_ref \
         JOIN agdc.metadata_type ON agdc.metadata_type.id = agdc.dataset_type.metadata_type_ref \
         WHERE agdc.dataset.archived IS NULL AND {filter}",
        view_name(name),
        cols.join(", ")
    )
}

/// `agdc.dv_<name>_dataset`.
pub fn view_name(name: &str) -> String {
    format!("agdc.dv_{}_dataset", name.to_lowercase())
}

/// A `dix_*` index datacube builds for a product.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicIndex {
    /// `dix_<product>_<fields>`.
    pub name: String,
    /// datacube's older name for the same index (`dix_field_<product>_dataset_<fields>`).
    pub legacy_name: String,
    /// The full `CREATE INDEX CONCURRENTLY …` statement.
    pub ddl: String,
}

/// The `dix_*` indexes of a product, by datacube's rules: composite gist indexes on `(lat, lon, time)`,
/// `(time, lat, lon)` and `(sat_path, sat_row, time)` where all exist, then one index per indexed field
/// not in a composite and not fixed by the product's `metadata` signature.
pub fn product_indexes(
    product: &str,
    product_id: i16,
    fields: &[SearchField],
    signature: &Value,
) -> Vec<DynamicIndex> {
    let excluded: Vec<&str> = fields
        .iter()
        .filter(|f| f.extract(signature).is_some())
        .map(|f| f.name.as_str())
        .collect();
    let by_name = |n: &str| fields.iter().find(|f| f.name == n);
    let mut in_composite: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for combo in [
        ["lat", "lon", "time"],
        ["time", "lat", "lon"],
        ["sat_path", "sat_row", "time"],
    ] {
        let members: Option<Vec<&SearchField>> = combo.iter().map(|n| by_name(n)).collect();
        if let Some(members) = members {
            if !combo.iter().all(|n| excluded.contains(n)) {
                out.push(index_for(product, product_id, &members, "gist"));
            }
            in_composite.extend(combo);
        }
    }
    for f in fields {
        let fixed = ["creation_time", "format", "label"].contains(&f.name.as_str());
        if f.indexed
            && !fixed
            && !in_composite.contains(&f.name.as_str())
            && !excluded.contains(&f.name.as_str())
        {
            out.push(index_for(product, product_id, &[f], f.index_method()));
        }
    }
    out
}

fn index_for(
    product: &str,
    product_id: i16,
    fields: &[&SearchField],
    method: &str,
) -> DynamicIndex {
    let joined = fields
        .iter()
        .map(|f| f.name.to_lowercase())
        .collect::<Vec<_>>()
        .join("_");
    let p = product.to_lowercase();
    let name = format!("dix_{p}_{joined}");
    let exprs: Vec<String> = fields
        .iter()
        .map(|f| format!("({})", f.sql("metadata")))
        .collect();
    DynamicIndex {
        ddl: format!(
            "CREATE INDEX CONCURRENTLY {name} ON agdc.dataset USING {method} ({}) \
             WHERE archived IS NULL AND dataset_type_ref = {product_id}",
            exprs.join(", ")
        ),
        legacy_name: format!("dix_field_{p}_dataset_{joined}"),
        name,
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eo3() -> Value {
        serde_json::from_str(include_str!("default_metadata/eo3.json")).unwrap()
    }

    #[test]
    fn eo3_fields_and_expressions_match_datacube() {
        let fields = dataset_fields(&eo3()).unwrap();
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(&names[..3], &["creation_time", "format", "label"]);
        let time = fields.iter().find(|f| f.name == "time").unwrap();
        assert_eq!(
            time.sql("metadata"),
            "tstzrange(least(agdc.common_timestamp(metadata #>> '{\"properties\", \"dtr:start_datetime\"}'), \
             agdc.common_timestamp(metadata #>> '{\"properties\", \"datetime\"}')), \
             greatest(agdc.common_timestamp(metadata #>> '{\"properties\", \"dtr:end_datetime\"}'), \
             agdc.common_timestamp(metadata #>> '{\"properties\", \"datetime\"}')), '[]')"
        );
        let cc = fields.iter().find(|f| f.name == "cloud_cover").unwrap();
        assert_eq!(
            cc.sql("m"),
            "CAST(m #>> '{\"properties\", \"eo:cloud_cover\"}' AS DOUBLE PRECISION)"
        );
    }

    #[test]
    fn eo3_product_gets_the_three_datacube_indexes() {
        let fields = dataset_fields(&eo3()).unwrap();
        let sig = serde_json::json!({"product": {"name": "p"}});
        let names: Vec<String> = product_indexes("P", 7, &fields, &sig)
            .into_iter()
            .map(|i| i.name)
            .collect();
        assert_eq!(
            names,
            [
                "dix_p_lat_lon_time",
                "dix_p_time_lat_lon",
                "dix_p_region_code"
            ]
        );
        // A signature that fixes the region code removes its index.
        let sig =
            serde_json::json!({"product": {"name": "p"}, "properties": {"odc:region_code": "x"}});
        assert_eq!(product_indexes("p", 7, &fields, &sig).len(), 2);
    }

    #[test]
    fn bad_field_definitions_are_explained() {
        let doc = serde_json::json!({"dataset": {"search_fields": {"x": {"type": "numeric", "offset": ["a"]}}}});
        let err = dataset_fields(&doc).unwrap_err();
        assert!(
            err.contains("search_fields.x: type: unknown type \"numeric\""),
            "{err}"
        );
        let doc = serde_json::json!({"dataset": {"search_fields": {"x": {"type": "double-range", "offset": ["a"]}}}});
        assert!(dataset_fields(&doc).unwrap_err().contains("min_offset"));
    }
}
