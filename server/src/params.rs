//! Item-search parameters as STAC API clients send them — a GET query string or a POST JSON body —
//! checked and turned into one [`Search`]. Anything malformed is a 400 naming the parameter.
use crate::error::ApiError;
use crate::fields::Fields;
use crate::geometry::Geometry;
use crate::sort::{self, SortKey};
pub use crate::temporal::Interval;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Items per page when the client does not say.
pub const DEFAULT_LIMIT: usize = 10;
/// The most items one page holds; larger limits are clamped to it (as stac-fastapi does).
pub const MAX_LIMIT: usize = 10_000;

/// Parameters this server does not implement: refused with a 400 rather than silently ignored.
const UNSUPPORTED: [&str; 2] = ["query", "q"];

/// How `numberMatched` is reported: only when asked (`count=exact` or `count=estimate`), since an
/// exact count reads every match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// `SELECT count(*)` of the search.
    Exact,
    /// The planner's estimate of the rows (`EXPLAIN`), at the cost of planning only.
    Estimate,
}

/// A checked item search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Only items of these collections (products).
    pub collections: Option<Vec<String>>,
    /// Only these item ids.
    pub ids: Option<Vec<String>>,
    /// Longitude/latitude box W,S,E,N (a 3D box's heights dropped).
    pub bbox: Option<[f64; 4]>,
    /// A GeoJSON geometry items must intersect.
    pub intersects: Option<Geometry>,
    /// Time interval, open ends None.
    pub datetime: Option<Interval>,
    /// Items per page (1..=MAX_LIMIT).
    pub limit: usize,
    /// Where the page starts: after the row with these sort-key values (a token's content).
    pub after: Option<Vec<Value>>,
    /// A CQL2 filter.
    pub filter: Option<cql2::Expr>,
    /// The order asked for (None: newest first).
    pub sortby: Option<Vec<SortKey>>,
    /// Which members of items to return.
    pub fields: Option<Fields>,
    /// Whether to report numberMatched, and how.
    pub count: Option<Count>,
}

/// One RFC 3339 date-time, as STAC API requires (full date, time and offset; `t`/`z` in either case).
fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    // chrono is lenient where RFC 3339 is not: a four-digit year and a `.` followed by digits only.
    if b.len() < 20 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    if let Some(dot) = s.find('.') {
        if !b.get(dot + 1).is_some_and(u8::is_ascii_digit) {
            return None;
        }
    }
    DateTime::parse_from_rfc3339(&s.to_ascii_uppercase())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `datetime`: an instant, or an interval `A/B` with `..` or nothing for an open end (not both).
pub fn parse_datetime(s: &str) -> Result<Interval, ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request(format!(
            "datetime {s:?}: {why} (expected an RFC 3339 date-time such as 2020-01-01T00:00:00Z, \
             or an interval A/B with .. for an open end)"
        ))
    };
    let one = |p: &str| parse_instant(p).ok_or_else(|| bad(&format!("{p:?} is not RFC 3339")));
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [t] => {
            let t = one(t)?;
            Ok((Some(t), Some(t)))
        }
        [a, b] => {
            let open = |p: &str| p.is_empty() || p == "..";
            let a = if open(a) { None } else { Some(one(a)?) };
            let b = if open(b) { None } else { Some(one(b)?) };
            match (a, b) {
                (None, None) => Err(bad("both ends are open")),
                (Some(a), Some(b)) if a > b => Err(bad("the start is after the end")),
                r => Ok(r),
            }
        }
        _ => Err(bad("more than one /")),
    }
}

/// `bbox` as numbers: 4 (W,S,E,N) or 6 (with heights); south not above north, latitudes in range.
fn check_bbox(v: &[f64]) -> Result<[f64; 4], ApiError> {
    let b = match v {
        [w, s, e, n] | [w, s, _, e, n, _] => [*w, *s, *e, *n],
        _ => {
            return Err(ApiError::bad_request(format!(
                "bbox {v:?}: expected 4 numbers W,S,E,N (or 6 with heights), got {}",
                v.len()
            )))
        }
    };
    let [w, s, e, n] = b;
    if !b.iter().all(|x| x.is_finite()) || s > n || s < -90.0 || n > 90.0 {
        return Err(ApiError::bad_request(format!(
            "bbox {v:?}: expected W,S,E,N with -90 <= S <= N <= 90"
        )));
    }
    if w > e {
        return Err(ApiError::bad_request(format!(
            "bbox {v:?}: a box across the antimeridian (W > E) is not supported; search its two halves"
        )));
    }
    Ok(b)
}

fn parse_limit(v: &Value) -> Result<usize, ApiError> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >= 1 => Ok((n as u64).min(MAX_LIMIT as u64) as usize),
        _ => Err(ApiError::bad_request(format!(
            "limit {v}: expected a whole number from 1 (larger than {MAX_LIMIT} is taken as {MAX_LIMIT})"
        ))),
    }
}

fn list(name: &str, v: &Value) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::bad_request(format!("{name} {v}: expected a list of strings"));
    match v {
        Value::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(String::from).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

/// Builds a search from named values: GET parameters are all strings, a POST body has JSON types.
fn from_map(m: &Map<String, Value>, get: bool) -> Result<Search, ApiError> {
    for key in UNSUPPORTED {
        if m.contains_key(key) {
            return Err(ApiError::bad_request(format!(
                "{key}: not supported by this server (see /conformance)"
            )));
        }
    }
    let mut s = Search {
        limit: DEFAULT_LIMIT,
        ..Default::default()
    };
    if let Some(v) = m.get("collections") {
        s.collections = Some(list("collections", v)?);
    }
    if let Some(v) = m.get("ids") {
        s.ids = Some(list("ids", v)?);
    }
    if let Some(v) = m.get("bbox") {
        let numbers: Vec<f64> = match (v, get) {
            (Value::String(t), true) => t
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "bbox {t:?}: expected comma-separated numbers W,S,E,N"
                    ))
                })?,
            (Value::Array(a), false) => a
                .iter()
                .map(|x| x.as_f64())
                .collect::<Option<_>>()
                .ok_or_else(|| ApiError::bad_request(format!("bbox {v}: expected numbers")))?,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "bbox {v}: expected an array of 4 or 6 numbers"
                )))
            }
        };
        s.bbox = Some(check_bbox(&numbers)?);
    }
    if let Some(v) = m.get("intersects") {
        let g = match v {
            Value::String(t) if get => serde_json::from_str(t)
                .map_err(|e| ApiError::bad_request(format!("intersects: not GeoJSON ({e})")))?,
            v => v.clone(),
        };
        s.intersects = Some(Geometry::parse(&g)?);
    }
    if s.bbox.is_some() && s.intersects.is_some() {
        return Err(ApiError::bad_request(
            "bbox and intersects: give one or the other, not both",
        ));
    }
    if let Some(v) = m.get("datetime") {
        let t = v
            .as_str()
            .ok_or_else(|| ApiError::bad_request(format!("datetime {v}: expected a string")))?;
        s.datetime = Some(parse_datetime(t)?);
    }
    if let Some(v) = m.get("limit") {
        s.limit = parse_limit(v)?;
    }
    if let Some(v) = m.get("token") {
        let t = v
            .as_str()
            .ok_or_else(|| ApiError::bad_request(format!("token {v}: expected a string")))?;
        s.after = Some(sort::parse_token(t)?);
    }
    if let Some(v) = m.get("filter") {
        let lang = match m.get("filter-lang") {
            None => None,
            Some(Value::String(l)) => Some(l.as_str()),
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "filter-lang {other}: expected cql2-text or cql2-json"
                )))
            }
        };
        s.filter = Some(crate::filter::parse(v, lang, get)?);
    } else if let Some(l) = m.get("filter-lang") {
        if !matches!(l.as_str(), Some("cql2-text" | "cql2-json")) {
            return Err(ApiError::bad_request(format!(
                "filter-lang {l}: expected cql2-text or cql2-json"
            )));
        }
    }
    if let Some(v) = m.get("filter-crs") {
        if v.as_str() != Some("http://www.opengis.net/def/crs/OGC/1.3/CRS84") {
            return Err(ApiError::bad_request(format!(
                "filter-crs {v}: only http://www.opengis.net/def/crs/OGC/1.3/CRS84 (lon/lat) is supported"
            )));
        }
    }
    if let Some(v) = m.get("sortby") {
        s.sortby = Some(match (v, get) {
            (Value::String(t), true) => sort::parse_get(t)?,
            (v, _) => sort::parse_post(v)?,
        });
    }
    if let Some(v) = m.get("fields") {
        s.fields = match (v, get) {
            (Value::String(t), true) => Fields::parse_get(t),
            (v, _) => Fields::parse_post(v)?,
        };
    }
    if let Some(v) = m.get("count") {
        s.count = Some(match v.as_str() {
            Some("exact") => Count::Exact,
            Some("estimate") => Count::Estimate,
            _ => {
                return Err(ApiError::bad_request(format!(
                "count {v}: expected exact or estimate (numberMatched is reported only when asked)"
            )))
            }
        });
    }
    Ok(s)
}

/// A GET query string's pairs (the last of a repeated name wins).
pub fn from_query(pairs: &[(String, String)]) -> Result<Search, ApiError> {
    let m: Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    from_map(&m, true)
}

/// A POST body.
pub fn from_body(body: &[u8]) -> Result<(Search, Map<String, Value>), ApiError> {
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("request body: not JSON ({e})")))?
    };
    let Value::Object(m) = v else {
        return Err(ApiError::bad_request(
            "request body: expected a JSON object",
        ));
    };
    Ok((from_map(&m, false)?, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_are_rfc3339_and_intervals() {
        for ok in [
            "1985-04-12T23:20:50.52Z",
            "1996-12-19T16:39:57-08:00",
            "../1985-04-12T23:20:50.52Z",
            "1985-04-12T23:20:50.52Z/",
            "/1985-04-12T23:20:50.52Z",
            "1985-04-12t23:20:50.000z",
            "2020-07-23T00:00:00.012345678Z",
        ] {
            assert!(parse_datetime(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/",
            "../..",
            "/..",
            "../",
            "1985-04-12",
            "1937-01-01T12:00:27.87+0100",
            "37-01-01T12:00:27.87Z",
            "1985-12-12T23:20:50.52",
            "21985-12-12T23:20:50.52Z",
            "1985-13-12T23:20:50.52Z",
            "1985-12-01T00:06:61.52Z",
            "1985-04-12T23:20:50.Z",
            "1985-04-12T23:20:50,52Z",
            "1990-12-31T23:59:61Z",
            "1986-04-12T23:20:50.52Z/1985-04-12T23:20:50.52Z",
            "/1984-04-12T23:20:50.52Z/1985-04-12T23:20:50.52Z",
        ] {
            let e = parse_datetime(bad).unwrap_err();
            assert!(e.description.starts_with("datetime"), "{bad}: {e:?}");
        }
    }

    #[test]
    fn limits_bboxes_and_tokens() {
        let q = |k: &str, v: &str| from_query(&[(k.to_string(), v.to_string())]);
        assert_eq!(q("limit", "1000000").unwrap().limit, MAX_LIMIT);
        assert_eq!(q("limit", "7").unwrap().limit, 7);
        for bad in ["-1", "0", "x", "1.5"] {
            assert!(q("limit", bad).is_err(), "{bad}");
        }
        assert_eq!(
            q("bbox", "1,2,3,4").unwrap().bbox,
            Some([1.0, 2.0, 3.0, 4.0])
        );
        assert_eq!(
            q("bbox", "100,0,0,105,1,1").unwrap().bbox,
            Some([100.0, 0.0, 105.0, 1.0])
        );
        for bad in ["[1,2,3,4]", "100,1,105,0", "0", "0,0,0,1,1", "a,b,c,d"] {
            assert!(q("bbox", bad).is_err(), "{bad}");
        }
        let e = from_body(br#"{"bbox": "1,2,3,4"}"#).unwrap_err();
        assert!(e.description.starts_with("bbox"), "{e:?}");
        let t = sort::token(r#"["2023-01-01T00:00:00+00:00","abc"]"#);
        assert_eq!(q("token", &t).unwrap().after.unwrap()[1], "abc");
        assert!(q("token", "nope!").is_err());
        assert!(q("filter", "id='x'").unwrap().filter.is_some());
        assert!(q("filter-lang", "cql2-xml").is_err());
        assert!(q("filter-crs", "EPSG:3857").is_err());
        assert_eq!(q("count", "exact").unwrap().count, Some(Count::Exact));
        assert!(q("count", "all").is_err());
        assert!(q("query", "{}").is_err());
    }
}
