//! Dataset search by product, time and lon/lat box, with the SQL shape datacube sends (so the same
//! `dix_*` indexes serve it) and datacube's post-filter, so results equal `dc.find_datasets`.
use crate::error::DbContext;
use crate::fields;
use crate::{Catalog, Error, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::sync::OnceLock;
use uuid::Uuid;

/// What to look for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Product name.
    pub product: String,
    /// Time range, both ends inclusive.
    pub time: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Longitude/latitude box (west, south, east, north).
    pub bbox: Option<[f64; 4]>,
    /// At most this many datasets (after the post-filter, as datacube counts them).
    pub limit: Option<usize>,
}

/// One dataset found.
#[derive(Debug, Clone)]
pub struct Found {
    /// Dataset id.
    pub id: Uuid,
    /// Active locations, newest first (as datacube orders them).
    pub uris: Vec<String>,
    /// The `time` search field's range (what datacube's `Dataset.time` holds), when the metadata type
    /// has one.
    pub time: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The `lon` search field's range (west, east).
    pub lon: Option<(f64, f64)>,
    /// The `lat` search field's range (south, north).
    pub lat: Option<(f64, f64)>,
    /// The stored document as JSON text (checked to be JSON by the search's post-filter).
    document: Box<str>,
    /// The document parsed, on first use.
    parsed: OnceLock<Value>,
}

impl Found {
    /// The stored document, parsed on first use (a search that only needs ids and locations does not
    /// pay for building every document's tree).
    pub fn metadata(&self) -> &Value {
        self.parsed.get_or_init(|| {
            serde_json::from_str(&self.document).expect("checked to be JSON when found")
        })
    }

    /// The stored document as JSON text, as Postgres returned it.
    pub fn document(&self) -> &str {
        &self.document
    }

    /// A found dataset rebuilt from what it was (a load plan handed to another process); `document`
    /// must be JSON, which is checked here as the search checks it.
    pub fn from_parts(
        id: Uuid,
        uris: Vec<String>,
        time: Option<(DateTime<Utc>, DateTime<Utc>)>,
        lon: Option<(f64, f64)>,
        lat: Option<(f64, f64)>,
        document: String,
    ) -> Result<Found> {
        let parsed: Value = serde_json::from_str(&document).map_err(|e| Error::Invalid {
            object: format!("dataset {id}"),
            message: format!("its document is not JSON: {e}"),
        })?;
        Ok(Found {
            id,
            uris,
            time,
            lon,
            lat,
            document: document.into(),
            parsed: OnceLock::from(parsed),
        })
    }
}

/// What datacube's post-filter reads of a document: whether it has a `grid_spatial.projection`, and
/// its lon/lat extent. Deserializing only this walks the rest of the document without building it.
#[derive(Deserialize)]
struct Placement {
    #[serde(default)]
    grid_spatial: HasProjection,
    #[serde(default)]
    extent: Option<Value>,
}

/// Whether a value is an object with a `projection` member (any value, as a JSON-pointer test sees it).
#[derive(Default)]
struct HasProjection(bool);

impl<'de> Deserialize<'de> for HasProjection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HasProjection;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut found = false;
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    found |= key == "projection";
                    map.next_value::<IgnoredAny>()?;
                }
                Ok(HasProjection(found))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(HasProjection(false))
            }
            fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
                Ok(HasProjection(false))
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
                Ok(HasProjection(false))
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
                Ok(HasProjection(false))
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
                Ok(HasProjection(false))
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
                Ok(HasProjection(false))
            }
            fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
                Ok(HasProjection(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a time bound the way datacube users write it: a date (`2020-01-02`, the whole day when it
/// is the end), a datetime, or an RFC 3339 timestamp. Returns (start of, end of) the value.
pub fn parse_time_bound(s: &str) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let bad = || Error::Invalid {
        object: format!("time {s:?}"),
        message: "expected YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS or RFC 3339".into(),
    };
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let start = d.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc();
        let end = d
            .and_hms_micro_opt(23, 59, 59, 999_999)
            .ok_or_else(bad)?
            .and_utc();
        return Ok((start, end));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        let t = t.with_timezone(&Utc);
        return Ok((t, t));
    }
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .map_err(|_| bad())?
        .and_utc();
    Ok((t, t))
}

/// `A/B` or a single value → an inclusive range.
pub fn parse_time_range(s: &str) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    match s.split_once('/') {
        Some((a, b)) => Ok((parse_time_bound(a)?.0, parse_time_bound(b)?.1)),
        None => parse_time_bound(s),
    }
}

/// Checks a longitude/latitude box W,S,E,N: an empty or inverted area is refused (it would silently
/// find nothing). `object` names the argument as the user wrote it.
pub fn check_bbox(object: &str, [w, s, e, n]: [f64; 4]) -> Result<[f64; 4]> {
    if w < e && s < n {
        Ok([w, s, e, n])
    } else {
        Err(Error::Invalid {
            object: object.to_string(),
            message: "expected W,S,E,N with W < E and S < N".into(),
        })
    }
}

/// Parses `W,S,E,N` (the command line's `--bbox`).
pub fn parse_bbox(b: &str) -> Result<[f64; 4]> {
    let object = format!("--bbox {b}");
    let v: Vec<f64> = b
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::Invalid {
            object: object.clone(),
            message: "expected four numbers W,S,E,N".into(),
        })?;
    match v.as_slice() {
        [w, s, e, n] => check_bbox(&object, [*w, *s, *e, *n]),
        _ => Err(Error::Invalid {
            object,
            message: "expected four numbers W,S,E,N".into(),
        }),
    }
}

/// A product's id and the SQL of its time, lat and lon search fields (None when its metadata type
/// has no such field). Resolved once per connection: a product's metadata type does not change.
#[derive(Debug, Clone)]
pub(crate) struct ProductSearch {
    id: i16,
    time: Option<String>,
    lat: Option<String>,
    lon: Option<String>,
}

fn product_search(catalog: &mut Catalog, product: &str) -> Result<ProductSearch> {
    if let Some(p) = catalog.search_fields.get(product) {
        return Ok(p.clone());
    }
    let lookup = catalog
        .prepared("SELECT p.id, m.definition::text FROM agdc.dataset_type p JOIN agdc.metadata_type m ON m.id = p.metadata_type_ref WHERE p.name = $1")
        .ctx("looking up the product")?;
    let row = catalog
        .client()
        .query_opt(&lookup, &[&product])
        .ctx("looking up the product")?
        .ok_or_else(|| Error::NotFound {
            object: format!("product {product:?}"),
            message: "not in the index (see `etlake product list`)".into(),
        })?;
    let definition: Value =
        serde_json::from_str(row.get::<_, &str>(1)).expect("jsonb text is JSON");
    let fields = fields::dataset_fields(&definition).map_err(|m| Error::Invalid {
        object: format!("product {product}"),
        message: m,
    })?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.sql("agdc.dataset.metadata"))
    };
    let p = ProductSearch {
        id: row.get(0),
        time: field("time"),
        lat: field("lat"),
        lon: field("lon"),
    };
    catalog.search_fields.insert(product.to_string(), p.clone());
    Ok(p)
}

/// The SQL and parameters of a search (datacube's shape, so datacube's `dix_*` indexes serve it).
fn build(
    catalog: &mut Catalog,
    q: &Query,
) -> Result<(String, Vec<Box<dyn postgres::types::ToSql + Sync>>)> {
    let ps = product_search(catalog, &q.product)?;
    let product_id = ps.id;
    let field = |sql: &Option<String>, name: &str| {
        sql.clone().ok_or_else(|| Error::Invalid {
            object: format!("product {}", q.product),
            message: format!("its metadata type has no {name} field to search on"),
        })
    };
    // The time, lon and lat ranges as datacube's fields compute them (NULL when the type has none).
    let bounds = |sql: &Option<String>, cast: &str| match sql {
        Some(e) => format!("lower({e}), upper({e})"),
        None => format!("NULL::{cast}, NULL::{cast}"),
    };
    let mut sql = format!(
        "SELECT agdc.dataset.id, agdc.dataset.metadata::text, {}, {}, {} \
         FROM agdc.dataset WHERE agdc.dataset.archived IS NULL AND agdc.dataset.dataset_type_ref = ",
        bounds(&ps.time, "timestamptz"),
        bounds(&ps.lon, "float8"),
        bounds(&ps.lat, "float8"),
    );
    // The product id is written into the statement, not bound: only a literal lets the planner prove
    // the predicate of the product's partial dix_* indexes, so the cached generic plan (chosen after a
    // few executions, and skipping ~0.5 ms of planning per query) still uses them.
    sql.push_str(&product_id.to_string());
    let mut params: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::new();
    if let Some((a, b)) = q.time {
        params.push(Box::new(a));
        params.push(Box::new(b));
        sql.push_str(&format!(
            " AND {} && tstzrange(${}, ${}, '[]')",
            field(&ps.time, "time")?,
            params.len() - 1,
            params.len()
        ));
    }
    if let Some([w, s, e, n]) = q.bbox {
        for (expr, name, lo, hi) in [(&ps.lat, "lat", s, n), (&ps.lon, "lon", w, e)] {
            params.push(Box::new(lo));
            params.push(Box::new(hi));
            sql.push_str(&format!(
                " AND {} && agdc.float8range(${}, ${})",
                field(expr, name)?,
                params.len() - 1,
                params.len()
            ));
        }
    }
    Ok((sql, params))
}

/// The active locations of a set of datasets, newest first per dataset (datacube's order). One query
/// for all datasets found: a correlated subquery per dataset costs Postgres ~8 µs each (index scan
/// plus a sort set up per row).
const LOCATIONS: &str =
    "SELECT dataset_ref, uri_scheme || ':' || uri_body FROM agdc.dataset_location \
     WHERE dataset_ref = ANY($1) AND archived IS NULL ORDER BY added DESC, id DESC";

/// Runs a search: archived datasets excluded; SQL filters on time and extent with datacube's range
/// expressions; then datacube's post-filter keeps datasets whose footprint strictly overlaps the box
/// (touching is not intersecting) and that have a `grid_spatial`. The datasets and their locations
/// are read in one read-only snapshot.
pub fn search(catalog: &mut Catalog, q: &Query) -> Result<Vec<Found>> {
    let (sql, params) = build(catalog, q)?;
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
        params.iter().map(|p| p.as_ref()).collect();
    let what = || format!("searching {}", q.product);
    let statement = catalog.prepared(&sql).ctx(what())?;
    let locations = catalog.prepared(LOCATIONS).ctx(what())?;
    let mut tx = catalog
        .client()
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .ctx(what())?;
    let rows = tx.query(&statement, &refs).ctx(what())?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let document: &str = r.get(1);
        let place: Placement = serde_json::from_str(document).expect("jsonb text is JSON");
        if !place.grid_spatial.0 {
            continue; // datacube cannot place it, and drops it
        }
        if let Some([w, s, e, n]) = q.bbox {
            let ext = |p: &str| place.extent.as_ref()?.pointer(p)?.as_f64();
            let (Some(x0), Some(x1), Some(y0), Some(y1)) = (
                ext("/lon/begin"),
                ext("/lon/end"),
                ext("/lat/begin"),
                ext("/lat/end"),
            ) else {
                continue;
            };
            if !(x0 < e && x1 > w && y0 < n && y1 > s) {
                continue;
            }
        }
        out.push(Found {
            id: r.get(0),
            uris: Vec::new(),
            time: r.get::<_, Option<DateTime<Utc>>>(2).zip(r.get(3)),
            lon: r.get::<_, Option<f64>>(4).zip(r.get(5)),
            lat: r.get::<_, Option<f64>>(6).zip(r.get(7)),
            document: document.into(),
            parsed: OnceLock::new(),
        });
    }
    if let Some(limit) = q.limit {
        out.truncate(limit);
    }
    if !out.is_empty() {
        let ids: Vec<Uuid> = out.iter().map(|f| f.id).collect();
        let slot: std::collections::HashMap<Uuid, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        for r in tx.query(&locations, &[&ids]).ctx(what())? {
            if let Some(&i) = slot.get(&r.get::<_, Uuid>(0)) {
                out[i].uris.push(r.get(1));
            }
        }
    }
    tx.commit().ctx(what())?;
    Ok(out)
}

/// The query plans of a search (`EXPLAIN`), to check that indexes serve it: the plan made for these
/// values, then the generic plan Postgres caches for the statement after a few executions (bound
/// values unknown), which repeated searches use.
pub fn explain(catalog: &mut Catalog, q: &Query) -> Result<String> {
    let (sql, params) = build(catalog, q)?;
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
        params.iter().map(|p| p.as_ref()).collect();
    let lines = |rows: Vec<postgres::Row>| {
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let custom = catalog
        .client()
        .query(&format!("EXPLAIN {sql}"), &refs)
        .ctx("explaining a search")?;
    // The same statement prepared by name, its values written as literals, planned generically.
    let mut values: Vec<String> = Vec::new();
    if let Some((a, b)) = q.time {
        values.extend([a, b].map(|t| format!("'{}'::timestamptz", t.to_rfc3339())));
    }
    if let Some([w, s, e, n]) = q.bbox {
        values.extend([s, n, w, e].map(|v| format!("{v:?}::float8")));
    }
    let args = if values.is_empty() {
        String::new()
    } else {
        format!("({})", values.join(", "))
    };
    let mut tx = catalog.client().transaction().ctx("explaining a search")?;
    tx.batch_execute(&format!(
        "SET LOCAL plan_cache_mode = force_generic_plan; PREPARE etlake_explain AS {sql}"
    ))
    .ctx("explaining a search")?;
    let generic = tx
        .query(&format!("EXPLAIN EXECUTE etlake_explain{args}"), &[])
        .ctx("explaining a search (generic plan)")?;
    tx.batch_execute("DEALLOCATE etlake_explain")
        .ctx("explaining a search")?;
    tx.rollback().ctx("explaining a search")?;
    Ok(format!(
        "plan for these values:\n{}\ngeneric plan (repeated searches):\n{}",
        lines(custom),
        lines(generic)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_cover_whole_days() {
        let (a, b) = parse_time_range("2020-01-01/2020-01-02").unwrap();
        assert_eq!(a.to_rfc3339(), "2020-01-01T00:00:00+00:00");
        assert_eq!(b.to_rfc3339(), "2020-01-02T23:59:59.999999+00:00");
        let (a, b) = parse_time_range("2020-01-01T12:00:00Z").unwrap();
        assert_eq!(a, b);
        assert!(parse_time_range("yesterday").is_err());
    }

    #[test]
    fn empty_or_inverted_areas_are_refused() {
        assert_eq!(
            parse_bbox("-105, 40,-103,41").unwrap(),
            [-105.0, 40.0, -103.0, 41.0]
        );
        for bad in ["-103,40,-103,41", "-103,41,-105,40", "1,2,3", "a,b,c,d"] {
            let e = parse_bbox(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("--bbox {bad}: expected")), "{e}");
        }
        let e = check_bbox("lon=(1, 1), lat=(0, 1)", [1.0, 0.0, 1.0, 1.0]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "lon=(1, 1), lat=(0, 1): expected W,S,E,N with W < E and S < N"
        );
    }
}
