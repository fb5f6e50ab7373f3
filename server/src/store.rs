//! The SQL of the API: collections (one per product, extents computed by Postgres), items and item
//! searches over `etlake.stac_item` joined to `agdc.dataset`, archived datasets left out, filtered
//! (CQL2 too), sorted and paged by keyset on the sort keys then the id (newest first unless asked),
//! and counted when asked. Every value a request gives is a bound parameter; no request text enters
//! SQL.
use crate::bind::Params;
use crate::columns::{bbox_sql, COLLECTION, END, ID, KEY, START};
use crate::error::ApiError;
use crate::params::{Count, Search};
use crate::{filter, products, sort};
use catalog_schema::Catalog;
use chrono::{DateTime, Utc};

/// Items of live datasets.
const FROM: &str =
    "FROM etlake.stac_item s JOIN agdc.dataset d ON d.id = s.dataset_ref WHERE d.archived IS NULL";

/// A collection: the product and the extent of its live items (None when it has none).
#[derive(Clone)]
pub struct CollectionRow {
    /// Product name (the collection id).
    pub name: String,
    /// The product's description.
    pub description: Option<String>,
    /// W,S,E,N of all its items.
    pub bbox: Option<[f64; 4]>,
    /// First start and last end of its items.
    pub interval: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
}

/// Products and the extents of their items (all products, or the one named).
pub fn collections(c: &mut Catalog, name: Option<&str>) -> Result<Vec<CollectionRow>, ApiError> {
    let sql = format!(
        "SELECT p.name::text, p.definition->>'description', x.w, x.s, x.e, x.n, x.t0, x.t1 \
         FROM agdc.dataset_type p LEFT JOIN LATERAL (SELECT min({}) w, min({}) s, max({}) e, max({}) n, \
         min({START}) t0, max({END}) t1 {FROM} AND s.collection = p.name) x ON true \
         WHERE $1::text IS NULL OR p.name = $1 ORDER BY p.name",
        bbox_sql(0),
        bbox_sql(1),
        bbox_sql(2),
        bbox_sql(3)
    );
    let st = c.prepared(&sql)?;
    let rows = c.client().query(&st, &[&name])?;
    Ok(rows
        .iter()
        .map(|r| {
            let b: [Option<f64>; 4] = [r.get(2), r.get(3), r.get(4), r.get(5)];
            CollectionRow {
                name: r.get(0),
                description: r.get(1),
                bbox: match b {
                    [Some(w), Some(s), Some(e), Some(n)] => Some([w, s, e, n]),
                    _ => None,
                },
                interval: (r.get(6), r.get(7)),
            }
        })
        .collect())
}

/// Fails with a 404 naming the collections that are not products of the index.
pub fn require_collections(c: &mut Catalog, names: &[String]) -> Result<(), ApiError> {
    let st = c.prepared("SELECT name::text FROM agdc.dataset_type WHERE name = ANY($1)")?;
    let known: Vec<String> = c
        .client()
        .query(&st, &[&names])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !known.contains(n))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "collection {}: no such collection (see /collections)",
            missing.join(", ")
        )))
    }
}

/// An item found.
pub struct ItemRow {
    /// Its collection.
    pub collection: String,
    /// The stored item as JSON text, without its `collection` and `links` (the server writes them).
    pub item: String,
    /// Its id.
    pub id: String,
    /// Its sort-key values as a JSON array (what a token after it carries).
    pub keys: String,
}

/// One item of a collection.
pub fn item(c: &mut Catalog, collection: &str, id: &str) -> Result<Option<ItemRow>, ApiError> {
    let sql = format!(
        "SELECT s.collection::text, (s.item - 'collection' - 'links')::text, s.item_id::text {FROM} \
         AND s.collection = $1 AND s.item_id = $2"
    );
    let st = c.prepared(&sql)?;
    Ok(c.client()
        .query_opt(&st, &[&collection, &id])?
        .map(|r| ItemRow {
            collection: r.get(0),
            item: r.get(1),
            id: r.get(2),
            keys: String::new(),
        }))
}

/// A page of a search.
pub struct Page {
    /// Up to `limit` items in the search's order.
    pub rows: Vec<ItemRow>,
    /// Whether more follow.
    pub more: bool,
    /// numberMatched, when asked for.
    pub matched: Option<u64>,
}

/// The `FROM … WHERE …` of a search (no paging) with its values bound into `p`.
fn conditions(c: &mut Catalog, q: &Search, p: &mut Params) -> Result<String, ApiError> {
    let mut sql = FROM.to_string();
    // One collection as `=`: Postgres 15 reads an index in order only for a plain equality on its
    // first column, which the default order's index (collection, datetime, id) needs.
    match q.collections.as_deref() {
        Some([one]) => sql.push_str(&format!(
            " AND s.collection = {}",
            p.bind(one.clone(), "text")
        )),
        Some(names) => sql.push_str(&format!(
            " AND s.collection = ANY({})",
            p.bind(names.to_vec(), "text[]")
        )),
        None => {}
    }
    if let Some(ids) = &q.ids {
        sql.push_str(&format!(
            " AND s.item_id = ANY({})",
            p.bind(ids.clone(), "text[]")
        ));
    }
    // A box: footprints that overlap it by more than an edge (as dc.find_datasets and `etlake
    // search` decide); a geometry: footprints it meets (touching counts).
    if let Some([w, s, e, n]) = q.bbox {
        for (i, op, v) in [(0, "<", e), (2, ">", w), (1, "<", n), (3, ">", s)] {
            sql.push_str(&format!(
                " AND {} {op} {}",
                bbox_sql(i),
                p.bind(v, "float8")
            ));
        }
    }
    if let Some(g) = &q.intersects {
        let b = [0, 1, 2, 3].map(bbox_sql);
        sql.push_str(&format!(" AND {}", g.sql(p, [&b[0], &b[1], &b[2], &b[3]])));
    }
    if let Some((a, b)) = q.datetime {
        let (pa, pb) = (p.bind(a, "timestamptz"), p.bind(b, "timestamptz"));
        sql.push_str(&format!(
            " AND tstzrange({START}, {END}, '[]') && tstzrange({pa}, {pb}, '[]')"
        ));
    }
    // The same box and interval on the products' own lat/lon/time ranges: implied by the
    // conditions above (items' boxes and times are their datasets'), and written as datacube writes
    // them so the products' dix_ indexes can serve the search.
    let area = q
        .bbox
        .or_else(|| q.intersects.as_ref().map(|g| g.envelope()));
    let scope = if q.filter.is_some() || area.is_some() || q.datetime.is_some() {
        products::load(c, q.collections.as_deref())?
    } else {
        Vec::new()
    };
    if area.is_some() || q.datetime.is_some() {
        if let Some(r) = products::ranges_sql(&scope, area, q.datetime, p) {
            sql.push_str(&format!(" AND {r}"));
        }
    }
    if let Some(f) = &q.filter {
        sql.push_str(&format!(" AND {}", filter::to_sql(f, &scope, p)?));
    }
    Ok(sql)
}

/// The search's order resolved (search fields per product, loaded only when sorted by one).
fn order(c: &mut Catalog, q: &Search) -> Result<Vec<sort::Resolved>, ApiError> {
    let order = sort::full(&q.sortby.clone().unwrap_or_else(sort::default_order));
    let scope = if sort::needs_products(&order) {
        products::load(c, q.collections.as_deref())?
    } else {
        Vec::new()
    };
    sort::resolve(&order, &scope)
}

/// A page of a search: up to `limit` items in its order, whether more follow, and numberMatched
/// when asked for. Statements with a filter or sortby are prepared for the request only (their
/// shapes are the client's); the others are kept per connection.
pub fn search(c: &mut Catalog, q: &Search) -> Result<Page, ApiError> {
    if let Some(names) = &q.collections {
        require_collections(c, names)?;
    }
    let (sql, p, matched) = page_query(c, q, true)?;
    let st = if q.filter.is_some() || q.sortby.is_some() {
        c.client().prepare(&sql)?
    } else {
        c.prepared(&sql)?
    };
    let mut rows: Vec<ItemRow> = c
        .client()
        .query(&st, &p.refs())?
        .iter()
        .map(|r| ItemRow {
            collection: r.get(0),
            item: r.get(1),
            id: r.get(2),
            keys: r.get(3),
        })
        .collect();
    let more = rows.len() > q.limit;
    rows.truncate(q.limit);
    Ok(Page {
        rows,
        more,
        matched,
    })
}

/// The page query of a search with its bound values, and numberMatched when asked for (and
/// `count` is true).
fn page_query(
    c: &mut Catalog,
    q: &Search,
    count_rows: bool,
) -> Result<(String, Params, Option<u64>), ApiError> {
    let mut p = Params::default();
    let mut sql = conditions(c, q, &mut p)?;
    let matched = match q.count {
        Some(how) if count_rows => Some(count(c, how, &sql, &p)?),
        _ => None,
    };
    let order = order(c, q)?;
    if let Some(values) = &q.after {
        let never_null = match order.first().map(sort::Resolved::sql) {
            Some(KEY) => !has_null_datetime(c, q.collections.as_deref())?,
            Some(ID) | Some(COLLECTION) => true,
            _ => false,
        };
        sql.push_str(&format!(
            " AND {}",
            sort::after(&order, values, &mut p, never_null)?
        ));
    }
    let limit = p.bind((q.limit + 1) as i64, "int8");
    Ok((page_sql(&order, &sql, &limit), p, matched))
}

/// Whether an item of these collections (all when None) has no datetime (read from a partial index).
fn has_null_datetime(c: &mut Catalog, names: Option<&[String]>) -> Result<bool, ApiError> {
    let st = c.prepared(
        "SELECT EXISTS (SELECT 1 FROM etlake.stac_item s WHERE s.datetime IS NULL \
         AND ($1::text[] IS NULL OR s.collection = ANY($1)))",
    )?;
    let names: Option<Vec<String>> = names.map(<[String]>::to_vec);
    Ok(c.client().query_one(&st, &[&names])?.get(0))
}

/// The page query: the matching rows' ids and sort keys are ordered and cut to the page first, and
/// only the page's items and tokens are read and turned into text (a filter may match thousands).
fn page_sql(order: &[sort::Resolved], from: &str, limit: &str) -> String {
    format!(
        "SELECT i.collection::text, (i.item - 'collection' - 'links')::text, i.item_id::text, {} FROM \
         (SELECT s.dataset_ref, {} {from} {} LIMIT {limit}) k \
         JOIN etlake.stac_item i ON i.dataset_ref = k.dataset_ref {}",
        sort::values_of_columns(order, "k"),
        sort::key_columns(order),
        sort::order_by(order),
        sort::order_by_columns(order, "k")
    )
}

/// numberMatched: a count of the rows, or the planner's estimate.
fn count(c: &mut Catalog, how: Count, from: &str, p: &Params) -> Result<u64, ApiError> {
    match how {
        Count::Exact => {
            let n: i64 = c
                .client()
                .query_one(&format!("SELECT count(*) {from}"), &p.refs())?
                .get(0);
            Ok(n as u64)
        }
        Count::Estimate => {
            let plan: serde_json::Value = c
                .client()
                .query_one(&format!("EXPLAIN (FORMAT JSON) SELECT 1 {from}"), &p.refs())?
                .get(0);
            Ok(plan[0]["Plan"]["Plan Rows"]
                .as_f64()
                .unwrap_or(0.0)
                .max(0.0) as u64)
        }
    }
}

/// The plan Postgres makes for a search's page query (`EXPLAIN`; a `token` in the search too), to
/// show which indexes serve it.
pub fn explain(c: &mut Catalog, q: &Search) -> Result<String, ApiError> {
    let (sql, p, _) = page_query(c, q, false)?;
    let sql = format!("EXPLAIN {sql}");
    let rows = c.client().query(&sql, &p.refs())?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n"))
}
