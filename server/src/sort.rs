//! `sortby` and keyset paging: the order of a search (the keys asked for, then the item id, nulls
//! last), and the paging token, which carries the last item's values of every sort key so the next
//! page starts right after it whatever the order — never an offset. Besides the item's own keys, a
//! search sorts by any scalar search field of its products (`cloud_cover`, `eo:cloud_cover`).
use crate::bind::Params;
use crate::columns::{COLLECTION, END, ID, KEY, START};
use crate::error::ApiError;
use crate::products::{Kind, Product};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// What a search can be sorted by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// The item's datetime (its start when it has a range only).
    Datetime,
    /// start_datetime (datetime when it has none).
    Start,
    /// end_datetime (datetime when it has none).
    End,
    /// The item id.
    Id,
    /// The collection id.
    Collection,
    /// A search field of the products (resolved per product when the search runs).
    Field(String),
}

/// One sort key and its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The key.
    pub key: Key,
    /// Descending.
    pub desc: bool,
}

const NAMES: &str =
    "datetime, start_datetime, end_datetime, id, collection and the search fields of /queryables";

impl Key {
    fn parse(name: &str) -> Result<Key, ApiError> {
        let name = name.strip_prefix("properties.").unwrap_or(name);
        Ok(match name {
            "datetime" => Key::Datetime,
            "start_datetime" => Key::Start,
            "end_datetime" => Key::End,
            "id" => Key::Id,
            "collection" => Key::Collection,
            other
                if !other.is_empty()
                    && other
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_:.-".contains(c)) =>
            {
                Key::Field(other.to_string())
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "sortby {other:?}: not a sortable field (sortable: {NAMES})"
                )))
            }
        })
    }

    /// Its SQL over the search's rows and what it holds, given the products searched.
    fn resolve(&self, scope: &[Product]) -> Result<(String, Kind), ApiError> {
        let fixed = |sql: &str, kind| Ok((sql.to_string(), kind));
        match self {
            Key::Datetime => fixed(KEY, Kind::Time),
            Key::Start => fixed(START, Kind::Time),
            Key::End => fixed(END, Kind::Time),
            Key::Id => fixed(ID, Kind::Text),
            Key::Collection => fixed(COLLECTION, Kind::Text),
            Key::Field(name) => {
                let found: Vec<(i16, String, Kind)> = scope
                    .iter()
                    .filter_map(|p| {
                        let (f, kind) = p.field(name)?;
                        Some((p.id, f.sql("d.metadata"), kind))
                    })
                    .collect();
                let Some((_, _, kind)) = found.first().cloned() else {
                    return Err(ApiError::bad_request(format!(
                        "sortby {name:?}: not a sortable field of the collections searched (sortable: {NAMES})"
                    )));
                };
                if found.iter().any(|f| f.2 != kind) {
                    return Err(ApiError::bad_request(format!(
                        "sortby {name:?}: the collections searched give it different types"
                    )));
                }
                let sql = match found.as_slice() {
                    [(_, sql, _)] if scope.len() == 1 => format!("({sql})"),
                    _ => {
                        let arms: Vec<String> = found
                            .iter()
                            .map(|(id, sql, _)| format!("WHEN {id} THEN {sql}"))
                            .collect();
                        format!("(CASE d.dataset_type_ref {} END)", arms.join(" "))
                    }
                };
                Ok((sql, kind))
            }
        }
    }
}

/// A sort key resolved for a search.
pub struct Resolved {
    sql: String,
    kind: Kind,
    desc: bool,
}

impl Resolved {
    /// Its SQL.
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

/// Whether an order names a search field (then the products searched are needed to resolve it).
pub fn needs_products(order: &[SortKey]) -> bool {
    order.iter().any(|k| matches!(k.key, Key::Field(_)))
}

/// An order's keys as SQL over the products searched.
pub fn resolve(order: &[SortKey], scope: &[Product]) -> Result<Vec<Resolved>, ApiError> {
    order
        .iter()
        .map(|k| {
            let (sql, kind) = k.key.resolve(scope)?;
            Ok(Resolved {
                sql,
                kind,
                desc: k.desc,
            })
        })
        .collect()
}

/// The server's order when the client gives none: newest first.
pub fn default_order() -> Vec<SortKey> {
    vec![SortKey {
        key: Key::Datetime,
        desc: true,
    }]
}

/// GET `sortby=-datetime,+id` (`+` may arrive decoded as a space).
pub fn parse_get(s: &str) -> Result<Vec<SortKey>, ApiError> {
    let keys: Vec<SortKey> = s
        .split(',')
        .map(|part| {
            let part = part.trim();
            let (desc, name) = match part.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, part.trim_start_matches('+')),
            };
            Ok(SortKey {
                key: Key::parse(name.trim())?,
                desc,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    check(keys)
}

/// POST `sortby: [{"field": "datetime", "direction": "desc"}]`.
pub fn parse_post(v: &Value) -> Result<Vec<SortKey>, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "sortby {v}: expected a list of {{\"field\": NAME, \"direction\": \"asc\"|\"desc\"}}"
        ))
    };
    let keys: Vec<SortKey> = v
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|k| {
            let field = k.get("field").and_then(Value::as_str).ok_or_else(bad)?;
            let desc = match k.get("direction").map(|d| d.as_str()) {
                None | Some(Some("asc")) => false,
                Some(Some("desc")) => true,
                _ => return Err(bad()),
            };
            Ok(SortKey {
                key: Key::parse(field)?,
                desc,
            })
        })
        .collect::<Result<_, _>>()?;
    check(keys)
}

fn check(keys: Vec<SortKey>) -> Result<Vec<SortKey>, ApiError> {
    if keys.is_empty() {
        return Err(ApiError::bad_request("sortby: no field given"));
    }
    for (i, k) in keys.iter().enumerate() {
        if keys[..i].iter().any(|o| o.key == k.key) {
            return Err(ApiError::bad_request(format!(
                "sortby: {:?} given twice",
                k.key
            )));
        }
    }
    Ok(keys)
}

/// The full order: the keys asked for, then the item id (unique) unless it is one of them.
pub fn full(keys: &[SortKey]) -> Vec<SortKey> {
    let mut out = keys.to_vec();
    if !out.iter().any(|k| k.key == Key::Id) {
        out.push(SortKey {
            key: Key::Id,
            desc: out.last().is_some_and(|k| k.desc),
        });
    }
    out
}

/// `ORDER BY …` of an order.
pub fn order_by(order: &[Resolved]) -> String {
    order_by_exprs(order, |_, k| k.sql.clone())
}

/// The order's keys selected as columns `o0`, `o1`, … (for a query that orders by them outside).
pub fn key_columns(order: &[Resolved]) -> String {
    let parts: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{} AS o{i}", k.sql))
        .collect();
    parts.join(", ")
}

/// `ORDER BY` the columns of [`key_columns`] of the relation `alias`.
pub fn order_by_columns(order: &[Resolved], alias: &str) -> String {
    order_by_exprs(order, |i, _| format!("{alias}.o{i}"))
}

fn order_by_exprs(order: &[Resolved], expr: impl Fn(usize, &Resolved) -> String) -> String {
    let parts: Vec<String> = order
        .iter()
        .enumerate()
        .map(|(i, k)| {
            format!(
                "{} {} NULLS LAST",
                expr(i, k),
                if k.desc { "DESC" } else { "ASC" }
            )
        })
        .collect();
    format!("ORDER BY {}", parts.join(", "))
}

/// The sort-key values of a row of a relation with the [`key_columns`] (`alias.o0`, …) as a JSON
/// array: the token's content.
pub fn values_of_columns(order: &[Resolved], alias: &str) -> String {
    let parts: Vec<String> = (0..order.len()).map(|i| format!("{alias}.o{i}")).collect();
    format!("jsonb_build_array({})::text", parts.join(", "))
}

/// The token of the position after a row (its sort-key values, as `values_of_columns` gives them).
pub fn token(values: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(values)
}

/// A token's values (checked against the order when the search runs).
pub fn parse_token(t: &str) -> Result<Vec<Value>, ApiError> {
    let bad = || ApiError::bad_request(format!("token {t:?}: not a token this server made"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .map_err(|_| bad())?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Array(v)) => Ok(v),
        _ => Err(bad()),
    }
}

/// The condition "after the token's row" in this order: lexicographic over the keys, each in its
/// direction with nulls last. With `first_never_null` (no row searched has a NULL first key) it also
/// bounds the first key alone (`datetime <= t` when newest first), implied by the rest, which an
/// index on that key can start its scan from: a later page then costs what the first one does.
pub fn after(
    order: &[Resolved],
    values: &[Value],
    p: &mut Params,
    first_never_null: bool,
) -> Result<String, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "token: it was made for another sortby (start again from the first page)",
        )
    };
    if values.len() != order.len() {
        return Err(bad());
    }
    // (strictly after on this key, equal on this key), from the last key back.
    let mut acc: Option<String> = None;
    for (i, (k, v)) in order.iter().zip(values).enumerate().rev() {
        let e = &k.sql;
        let b = match (v, k.kind) {
            (Value::Null, _) => None,
            (Value::String(s), Kind::Time) => {
                let t = DateTime::parse_from_rfc3339(s)
                    .map_err(|_| bad())?
                    .with_timezone(&Utc);
                Some(p.bind(t, "timestamptz"))
            }
            (Value::String(s), Kind::Text) => Some(p.bind(s.clone(), "text")),
            (Value::Number(n), Kind::Number) => Some(p.bind(n.as_f64().ok_or_else(bad)?, "float8")),
            _ => return Err(bad()),
        };
        let (after, equal) = match b {
            None => ("FALSE".to_string(), format!("{e} IS NULL")),
            Some(ref b) => {
                let op = if k.desc { "<" } else { ">" };
                (
                    format!("({e} {op} {b} OR {e} IS NULL)"),
                    format!("{e} = {b}"),
                )
            }
        };
        let bound = match (&b, first_never_null && i == 0) {
            (Some(b), true) => {
                format!(" AND {e} {} {b}", if k.desc { "<=" } else { ">=" })
            }
            _ => String::new(),
        };
        acc = Some(match acc {
            None => format!("{after}{bound}"),
            Some(rest) => format!("({after} OR ({equal} AND {rest})){bound}"),
        });
    }
    Ok(acc.unwrap_or_else(|| "TRUE".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortby_get_and_post() {
        let k = parse_get("-datetime, id").unwrap();
        assert_eq!(
            k[0],
            SortKey {
                key: Key::Datetime,
                desc: true
            }
        );
        assert_eq!(
            k[1],
            SortKey {
                key: Key::Id,
                desc: false
            }
        );
        assert_eq!(parse_get(" collection").unwrap()[0].key, Key::Collection);
        assert_eq!(
            parse_post(&serde_json::json!([{"field": "properties.datetime", "direction": "asc"}]))
                .unwrap()[0],
            SortKey {
                key: Key::Datetime,
                desc: false
            }
        );
        assert_eq!(
            parse_get("-eo:cloud_cover").unwrap()[0].key,
            Key::Field("eo:cloud_cover".into())
        );
        for bad in ["", "cloud cover", "x;y", "id,id", "-"] {
            assert!(
                parse_get(bad)
                    .unwrap_err()
                    .description
                    .starts_with("sortby"),
                "{bad}"
            );
        }
        assert!(parse_post(&serde_json::json!([{"field": "id", "direction": "up"}])).is_err());
        assert_eq!(full(&k).len(), 2);
        assert!(needs_products(
            &parse_get("collection,region_code").unwrap()
        ));
        assert_eq!(full(&default_order()).last().unwrap().key, Key::Id);
    }

    #[test]
    fn tokens_carry_every_key() {
        let order = resolve(&full(&default_order()), &[]).unwrap();
        assert!(resolve(&parse_get("cloud_cover").unwrap(), &[]).is_err());
        let t = token(r#"["2023-01-01T00:00:00+00:00", "abc"]"#);
        let v = parse_token(&t).unwrap();
        let mut p = Params::default();
        let c = after(&order, &v, &mut p, false).unwrap();
        assert_eq!(p.len(), 2, "{c}");
        assert!(!c.contains("<="), "{c}");
        // The first key bounded alone too when no row has it null (for the index to start there).
        let bounded = after(&order, &v, &mut p, true).unwrap();
        assert!(
            bounded.ends_with(" AND s.datetime <= $4::timestamptz"),
            "{bounded}"
        );
        assert!(after(&order, &v[..1], &mut p, false).is_err());
        assert!(parse_token("nope!").is_err());
        let odd = parse_token(&token(r#"["yesterday", "abc"]"#)).unwrap();
        assert!(after(&order, &odd, &mut p, true).is_err());
    }
}
