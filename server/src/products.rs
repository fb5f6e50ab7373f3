//! The products of the index with the search fields of their metadata types — what a filter may
//! name besides the item's own `id`, `collection`, `datetime` and `geometry` — and the queryables
//! documents (JSON Schema) that list them.
use crate::bind::Params;
use crate::error::ApiError;
use crate::temporal::Interval;
use catalog_schema::fields::{dataset_fields, FieldType, SearchField};
use catalog_schema::Catalog;
use serde_json::{json, Map, Value};

/// A product (collection) and its metadata type's search fields.
pub struct Product {
    /// `agdc.dataset_type.id`, written into SQL as a literal so the planner can use the product's
    /// partial `dix_*` indexes.
    pub id: i16,
    /// Its metadata type's search fields, in datacube's order.
    pub fields: Vec<SearchField>,
}

/// What a scalar search field's SQL gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// text
    Text,
    /// float8, integer
    Number,
    /// timestamptz
    Time,
    /// boolean
    Bool,
    /// jsonb of the stored item (a property that is not a search field), typed where compared
    Json,
    /// SQL NULL
    Null,
}

impl Product {
    /// The scalar search field a filter or sort names, by its datacube name (`cloud_cover`) or, for a
    /// field read from one `properties.X` offset, by the STAC property name `X` (`eo:cloud_cover`).
    pub fn field(&self, name: &str) -> Option<(&SearchField, Kind)> {
        self.fields.iter().find_map(|f| {
            let kind = scalar_kind(f.kind)?;
            let alias = match f.offsets.as_slice() {
                [o] if o.len() == 2 && o[0] == "properties" => Some(o[1].as_str()),
                _ => None,
            };
            (f.name == name || alias == Some(name)).then_some((f, kind))
        })
    }
}

impl Product {
    fn range_field(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.sql("d.metadata"))
    }

    /// Whether its metadata type has the `lat`/`lon` (`space`) or `time` ranges.
    pub fn has_ranges(&self, space: bool, time: bool) -> bool {
        (space && self.range_field("lat").is_some() && self.range_field("lon").is_some())
            || (time && self.range_field("time").is_some())
    }

    /// Conditions on the product's `lat`/`lon` ranges meeting the box W,S,E,N and its `time` range
    /// meeting the interval (edges included), where its metadata type has those fields: datacube's
    /// own expressions, which its `dix_*` indexes are built on (as `etlake search` writes them).
    pub fn ranges_sql(
        &self,
        bbox: Option<[f64; 4]>,
        time: Option<Interval>,
        p: &mut Params,
    ) -> Vec<String> {
        let mut out = Vec::new();
        let (lat, lon) = (self.range_field("lat"), self.range_field("lon"));
        if let (Some([w, s, e, n]), Some(lat), Some(lon)) = (bbox, lat, lon) {
            for (sql, lo, hi) in [(lat, s, n), (lon, w, e)] {
                let (lo, hi) = (p.bind(lo, "float8"), p.bind(hi, "float8"));
                out.push(if sql.starts_with("numrange") {
                    format!("{sql} && numrange({lo}::numeric, {hi}::numeric, '[]')")
                } else {
                    format!("{sql} && agdc.float8range({lo}, {hi}, '[]')")
                });
            }
        }
        if let (Some((a, b)), Some(sql)) = (time, self.range_field("time")) {
            let (a, b) = (p.bind(a, "timestamptz"), p.bind(b, "timestamptz"));
            out.push(format!("{sql} && tstzrange({a}, {b}, '[]')"));
        }
        out
    }
}

/// Per product of `scope`, its id and the conditions on its ranges (see [`Product::ranges_sql`]),
/// joined with OR: None when no product has such fields.
pub fn ranges_sql(
    scope: &[Product],
    bbox: Option<[f64; 4]>,
    time: Option<Interval>,
    p: &mut Params,
) -> Option<String> {
    if !scope
        .iter()
        .any(|x| x.has_ranges(bbox.is_some(), time.is_some()))
    {
        return None;
    }
    let arms: Vec<String> = scope
        .iter()
        .map(|x| {
            let mut c = vec![format!("d.dataset_type_ref = {}", x.id)];
            c.extend(x.ranges_sql(bbox, time, p));
            format!("({})", c.join(" AND "))
        })
        .collect();
    Some(format!("({})", arms.join(" OR ")))
}

fn scalar_kind(t: FieldType) -> Option<Kind> {
    match t {
        FieldType::String => Some(Kind::Text),
        FieldType::Integer | FieldType::Double => Some(Kind::Number),
        FieldType::Datetime => Some(Kind::Time),
        _ => None,
    }
}

/// The products named (all when None), with their fields. Names not in the index are left out (the
/// caller checks collections first where that is a 404).
pub fn load(c: &mut Catalog, names: Option<&[String]>) -> Result<Vec<Product>, ApiError> {
    let st = c.prepared(
        "SELECT p.id, p.name::text, m.definition::text FROM agdc.dataset_type p \
         JOIN agdc.metadata_type m ON m.id = p.metadata_type_ref \
         WHERE $1::text[] IS NULL OR p.name = ANY($1) ORDER BY p.name",
    )?;
    let names: Option<Vec<String>> = names.map(<[String]>::to_vec);
    let mut out = Vec::new();
    for r in c.client().query(&st, &[&names])? {
        let name: String = r.get(1);
        let definition: Value = serde_json::from_str(r.get::<_, &str>(2))
            .map_err(|e| ApiError::internal(format!("metadata type of {name}: {e}")))?;
        let fields = dataset_fields(&definition)
            .map_err(|e| ApiError::internal(format!("metadata type of {name}: {e}")))?;
        out.push(Product {
            id: r.get(0),
            fields,
        });
    }
    Ok(out)
}

/// The queryables document at `url` for these products (one for a collection, all for `/queryables`).
pub fn queryables(url: &str, title: &str, products: &[Product]) -> Value {
    let mut props = Map::new();
    props.insert(
        "id".into(),
        json!({"description": "item id (the dataset id)", "type": "string"}),
    );
    props.insert(
        "collection".into(),
        json!({"description": "collection id (the product name)", "type": "string"}),
    );
    props.insert(
        "datetime".into(),
        json!({"description": "the item's datetime (its start when it has a range); temporal \
               operators compare its start_datetime/end_datetime range",
               "type": "string", "format": "date-time"}),
    );
    props.insert(
        "geometry".into(),
        json!({"description": "the item's footprint (its lon/lat box)",
               "$ref": "https://geojson.org/schema/Geometry.json"}),
    );
    for p in products {
        for f in &p.fields {
            let Some(kind) = scalar_kind(f.kind) else {
                continue;
            };
            if props.contains_key(&f.name) {
                continue;
            }
            let mut schema = match kind {
                Kind::Number if f.kind == FieldType::Integer => json!({"type": "integer"}),
                Kind::Number => json!({"type": "number"}),
                Kind::Time => json!({"type": "string", "format": "date-time"}),
                _ => json!({"type": "string"}),
            };
            let offsets: Vec<String> = f.offsets.iter().map(|o| o.join(".")).collect();
            let mut what = format!(
                "search field {} of the metadata type (document offset {})",
                f.name,
                offsets.join(" or ")
            );
            if let [o] = f.offsets.as_slice() {
                if o.len() == 2 && o[0] == "properties" && o[1] != f.name {
                    what.push_str(&format!("; also named {}", o[1]));
                }
            }
            schema["description"] = what.into();
            props.insert(f.name.clone(), schema);
        }
    }
    json!({
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": url,
        "type": "object",
        "title": title,
        "properties": props,
        "additionalProperties": true,
    })
}
