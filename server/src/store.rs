//! The SQL of the API: collections (one per product, extents computed by Postgres), items and item
//! searches over `etlake.stac_item`, archived datasets left out, paged by keyset on (datetime, id)
//! newest first. Every value a request gives is a bound parameter; no request text enters SQL.
use crate::error::ApiError;
use crate::params::Search;
use catalog_schema::Catalog;
use chrono::{DateTime, Utc};
use postgres::types::ToSql;

/// An item's sort key: its datetime, or its start when it has a range only.
const KEY: &str = "coalesce(s.item#>>'{properties,datetime}', s.item#>>'{properties,start_datetime}')::timestamptz";
const START: &str = "coalesce(s.item#>>'{properties,start_datetime}', s.item#>>'{properties,datetime}')::timestamptz";
const END: &str =
    "coalesce(s.item#>>'{properties,end_datetime}', s.item#>>'{properties,datetime}')::timestamptz";

fn bbox_sql(i: usize) -> String {
    format!("(s.item#>>'{{bbox,{i}}}')::float8")
}

/// Items of live datasets.
const FROM: &str =
    "FROM etlake.stac_item s JOIN agdc.dataset d ON d.id = s.dataset_ref WHERE d.archived IS NULL";

/// A collection: the product and the extent of its live items (None when it has none).
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
    /// The stored item as JSON text.
    pub item: String,
    /// Its sort key.
    pub key: DateTime<Utc>,
    /// Its id.
    pub id: String,
}

/// One item of a collection.
pub fn item(c: &mut Catalog, collection: &str, id: &str) -> Result<Option<ItemRow>, ApiError> {
    let sql = format!(
        "SELECT s.collection::text, s.item::text, {KEY}, s.item_id::text {FROM} \
         AND s.collection = $1 AND s.item_id = $2"
    );
    let st = c.prepared(&sql)?;
    Ok(c.client()
        .query_opt(&st, &[&collection, &id])?
        .map(|r| ItemRow {
            collection: r.get(0),
            item: r.get(1),
            key: r.get(2),
            id: r.get(3),
        }))
}

/// A page of a search: up to `limit` items in the server's order (datetime, then id, newest
/// first), and whether more follow.
pub fn search(c: &mut Catalog, q: &Search) -> Result<(Vec<ItemRow>, bool), ApiError> {
    if let Some(names) = &q.collections {
        require_collections(c, names)?;
    }
    let mut sql = format!(
        "SELECT s.collection::text, s.item::text, {KEY} AS k, s.item_id::text, {}, {}, {}, {} {FROM}",
        bbox_sql(0),
        bbox_sql(1),
        bbox_sql(2),
        bbox_sql(3)
    );
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let bind = |params: &mut Vec<Box<dyn ToSql + Sync + Send>>, v: Box<dyn ToSql + Sync + Send>| {
        params.push(v);
        format!("${}", params.len())
    };
    if let Some(names) = &q.collections {
        let p = bind(&mut params, Box::new(names.clone()));
        sql.push_str(&format!(" AND s.collection = ANY({p})"));
    }
    if let Some(ids) = &q.ids {
        let p = bind(&mut params, Box::new(ids.clone()));
        sql.push_str(&format!(" AND s.item_id = ANY({p})"));
    }
    // A box: footprints that overlap it by more than an edge (as dc.find_datasets and `etlake
    // search` decide); a geometry: its envelope here (edges included), the exact test below.
    let boxes = match (&q.bbox, &q.intersects) {
        (Some(b), _) => Some((*b, "<", ">")),
        (None, Some(g)) => Some((g.envelope(), "<=", ">=")),
        _ => None,
    };
    if let Some(([w, s, e, n], lt, gt)) = boxes {
        for (i, op, v) in [(0, lt, e), (2, gt, w), (1, lt, n), (3, gt, s)] {
            let p = bind(&mut params, Box::new(v));
            sql.push_str(&format!(" AND {} {op} {p}", bbox_sql(i)));
        }
    }
    if let Some((a, b)) = q.datetime {
        let (pa, pb) = (
            bind(&mut params, Box::new(a)),
            bind(&mut params, Box::new(b)),
        );
        sql.push_str(&format!(
            " AND tstzrange({START}, {END}, '[]') && tstzrange({pa}::timestamptz, {pb}::timestamptz, '[]')"
        ));
    }
    let (k, id, n) = (params.len() + 1, params.len() + 2, params.len() + 3);
    sql.push_str(&format!(
        " AND (${k}::timestamptz IS NULL OR ({KEY}, s.item_id::text) < (${k}, ${id})) \
         ORDER BY k DESC, s.item_id DESC LIMIT ${n}"
    ));
    let st = c.prepared(&sql)?;
    let want = q.limit + 1;
    // Without a geometry every row found counts; with one, rows are read in chunks until a page and
    // one more match, or the rows run out.
    let chunk = if q.intersects.is_some() {
        want.max(200)
    } else {
        want
    };
    let mut after: (Option<DateTime<Utc>>, Option<String>) = q
        .after
        .clone()
        .map_or((None, None), |(k, id)| (Some(k), Some(id)));
    let mut out = Vec::new();
    loop {
        let mut refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let n = chunk as i64;
        refs.extend([&after.0 as &(dyn ToSql + Sync), &after.1, &n]);
        let rows = c.client().query(&st, &refs)?;
        let full = rows.len() == chunk;
        for r in &rows {
            let key: DateTime<Utc> = r.get(2);
            let id: String = r.get(3);
            after = (Some(key), Some(id.clone()));
            let bbox: [Option<f64>; 4] = [r.get(4), r.get(5), r.get(6), r.get(7)];
            if let (Some(g), [Some(w), Some(s), Some(e), Some(n)]) = (&q.intersects, bbox) {
                if !g.intersects_box([w, s, e, n]) {
                    continue;
                }
            }
            out.push(ItemRow {
                collection: r.get(0),
                item: r.get(1),
                key,
                id,
            });
            if out.len() == want {
                break;
            }
        }
        if out.len() == want || !full {
            break;
        }
    }
    let more = out.len() > q.limit;
    out.truncate(q.limit);
    Ok((out, more))
}
