//! The `filter` parameter: CQL2 (cql2-text or cql2-json, parsed by the `cql2` crate) turned into a
//! SQL condition over a search's rows (`s` = etlake.stac_item, `d` = agdc.dataset). Basic CQL2
//! (comparisons, AND/OR/NOT, IS NULL), BETWEEN, IN, LIKE, CASEI, S_INTERSECTS/S_DISJOINT on the
//! footprint and the temporal operators on `datetime`. Every value is a bound parameter.
//!
//! A property is `id`, `collection`, `datetime` (`start_datetime`, `end_datetime`), `geometry`, a
//! search field of the product's metadata type (by its datacube name or, for a field read from
//! `properties.X`, by `X`), or else any property of the stored item (typed where it is compared).
//! Search fields use the same SQL expression as datacube's `dix_*` indexes, and the condition is
//! written per product (`d.dataset_type_ref = <id> AND …`) so the planner can prove the partial
//! indexes' predicates; S_INTERSECTS adds the product's `lat`/`lon` ranges and T_INTERSECTS its
//! `time` range, as `etlake search` does.
use crate::bind::Params;
use crate::columns::{bbox_sql, COLLECTION, END, ID, KEY, START};
use crate::error::ApiError;
use crate::geometry::Geometry;
use crate::products::{Kind, Product};
use crate::temporal::{allen, interval, inverse};
use cql2::Expr;
use serde_json::Value;

/// Nesting deeper than this is refused before parsing (a parser's recursion must not exhaust the stack).
const MAX_DEPTH: usize = 64;

fn bad(why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("filter: {why}"))
}

fn check_depth(text: &str) -> Result<(), ApiError> {
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Err(bad(format!("nested more than {MAX_DEPTH} deep")));
        }
    }
    Ok(())
}

/// Parses `filter` as `filter-lang` says (GET: cql2-text unless told; POST: cql2-json for an
/// object, cql2-text for a string).
pub fn parse(v: &Value, lang: Option<&str>, get: bool) -> Result<Expr, ApiError> {
    let lang = lang.unwrap_or(if get || v.is_string() {
        "cql2-text"
    } else {
        "cql2-json"
    });
    let expr = match (lang, v) {
        ("cql2-text", Value::String(s)) => {
            check_depth(s)?;
            cql2::parse_text(s).map_err(|e| bad(format!("not valid cql2-text: {e}")))?
        }
        ("cql2-json", Value::String(s)) => {
            check_depth(s)?;
            cql2::parse_json(s).map_err(|e| bad(format!("not valid cql2-json: {e}")))?
        }
        ("cql2-json", Value::Object(_)) => {
            check_depth(&v.to_string())?;
            serde_json::from_value(v.clone())
                .map_err(|e| bad(format!("not valid cql2-json: {e}")))?
        }
        ("cql2-text", _) => return Err(bad("cql2-text is a string")),
        ("cql2-json", _) => return Err(bad("cql2-json is an object (or its text)")),
        (other, _) => {
            return Err(ApiError::bad_request(format!(
                "filter-lang {other:?}: expected cql2-text or cql2-json"
            )))
        }
    };
    Ok(expr)
}

/// The SQL condition of a filter over the products in scope (all the search may return).
pub fn to_sql(expr: &Expr, scope: &[Product], p: &mut Params) -> Result<String, ApiError> {
    let start = p.len();
    let mut t = Translator {
        p: &mut *p,
        product: None,
        scope,
        specific: false,
    };
    let generic = t.predicate(expr)?;
    if !t.specific {
        return Ok(generic);
    }
    // The filter names product-specific SQL: one arm per product.
    p.truncate(start);
    let mut arms = Vec::new();
    for product in scope {
        let mut t = Translator {
            p: &mut *p,
            product: Some(product),
            scope,
            specific: false,
        };
        let c = t.predicate(expr)?;
        arms.push(format!("(d.dataset_type_ref = {} AND {c})", product.id));
    }
    Ok(format!("({})", arms.join(" OR ")))
}

/// A value in SQL and what it holds.
struct Val {
    sql: String,
    kind: Kind,
}

struct Translator<'a> {
    p: &'a mut Params,
    /// The product an arm is written for (None: written once for all).
    product: Option<&'a Product>,
    scope: &'a [Product],
    /// Whether the SQL written depends on the product.
    specific: bool,
}

fn text(e: &Expr) -> String {
    e.to_text().unwrap_or_else(|_| format!("{e:?}"))
}

impl Translator<'_> {
    /// A condition.
    fn predicate(&mut self, e: &Expr) -> Result<String, ApiError> {
        match e {
            Expr::Bool(b) => Ok(if *b { "TRUE" } else { "FALSE" }.into()),
            Expr::Property { .. } => {
                let v = self.scalar(e)?;
                self.coerce(v, Kind::Bool)
            }
            Expr::Operation { op, args } => self.operation(&op.to_ascii_lowercase(), args),
            other => Err(bad(format!("{} is not a condition", text(other)))),
        }
    }

    fn operation(&mut self, op: &str, args: &[Box<Expr>]) -> Result<String, ApiError> {
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(bad(format!("{op} takes {n} arguments, got {}", args.len())))
            }
        };
        match op {
            "and" | "or" => {
                if args.is_empty() {
                    return Err(bad(format!("{op} without arguments")));
                }
                let parts: Vec<String> = args
                    .iter()
                    .map(|a| self.predicate(a))
                    .collect::<Result<_, _>>()?;
                Ok(format!(
                    "({})",
                    parts.join(&format!(" {} ", op.to_uppercase()))
                ))
            }
            "not" => {
                arity(1)?;
                Ok(format!("(NOT {})", self.predicate(&args[0])?))
            }
            "=" | "<>" | "<" | "<=" | ">" | ">=" => {
                arity(2)?;
                let (a, b) = (self.scalar(&args[0])?, self.scalar(&args[1])?);
                let (a, b) = self.unify(a, b)?;
                Ok(format!("({a} {op} {b})"))
            }
            "between" => {
                let (x, lo, hi) = match args {
                    [x, lo, hi] => (x, lo.as_ref().clone(), hi.as_ref().clone()),
                    [x, range] => match range.as_ref() {
                        Expr::Array(v) if v.len() == 2 => (x, (*v[0]).clone(), (*v[1]).clone()),
                        _ => return Err(bad("between takes a value and two bounds")),
                    },
                    _ => return Err(bad("between takes a value and two bounds")),
                };
                let v = self.scalar(x)?;
                let (lo, hi) = (self.scalar(&lo)?, self.scalar(&hi)?);
                let kind = if v.kind == Kind::Json {
                    lo.kind
                } else {
                    v.kind
                };
                let x = self.coerce(v, kind)?;
                let lo = self.coerce(lo, kind)?;
                let hi = self.coerce(hi, kind)?;
                Ok(format!("({x} BETWEEN {lo} AND {hi})"))
            }
            "in" => {
                arity(2)?;
                let Expr::Array(items) = args[1].as_ref() else {
                    return Err(bad("in takes a value and a list"));
                };
                let v = self.scalar(&args[0])?;
                let list = if items.iter().all(|i| matches!(**i, Expr::Float(_))) {
                    let nums: Vec<f64> = items
                        .iter()
                        .filter_map(|i| match **i {
                            Expr::Float(f) => Some(f),
                            _ => None,
                        })
                        .collect();
                    Val {
                        sql: self.p.bind(nums, "float8[]"),
                        kind: Kind::Number,
                    }
                } else if items.iter().all(|i| matches!(**i, Expr::Literal(_))) {
                    let strs: Vec<String> = items
                        .iter()
                        .filter_map(|i| match i.as_ref() {
                            Expr::Literal(s) => Some(s.clone()),
                            _ => None,
                        })
                        .collect();
                    Val {
                        sql: self.p.bind(strs, "text[]"),
                        kind: Kind::Text,
                    }
                } else {
                    return Err(bad(
                        "in: the list holds numbers or strings, all of one kind",
                    ));
                };
                let x = self.coerce(v, list.kind)?;
                Ok(format!("({x} = ANY({}))", list.sql))
            }
            "like" => {
                arity(2)?;
                let (a, b) = (self.scalar(&args[0])?, self.scalar(&args[1])?);
                let (a, b) = (self.coerce(a, Kind::Text)?, self.coerce(b, Kind::Text)?);
                Ok(format!("({a} LIKE {b})"))
            }
            "isnull" => {
                arity(1)?;
                let v = self.scalar(&args[0])?;
                Ok(match v.kind {
                    Kind::Json => format!("({0} IS NULL OR jsonb_typeof({0}) = 'null')", v.sql),
                    _ => format!("({} IS NULL)", v.sql),
                })
            }
            "s_intersects" | "s_disjoint" => {
                arity(2)?;
                let c = self.spatial(&args[0], &args[1])?;
                Ok(if op == "s_disjoint" {
                    format!("(NOT {c})")
                } else {
                    c
                })
            }
            op if op.starts_with("s_") => Err(bad(format!(
                "{op} is not supported (spatial operators: s_intersects, s_disjoint)"
            ))),
            op if op.starts_with("t_") => {
                arity(2)?;
                self.temporal(op, &args[0], &args[1])
            }
            other => Err(bad(format!(
                "operator {other:?} is not supported (see /conformance: basic CQL2, advanced \
                 comparison, basic spatial and temporal operators)"
            ))),
        }
    }

    /// A value: a literal (bound) or a property.
    fn scalar(&mut self, e: &Expr) -> Result<Val, ApiError> {
        let val = |sql: String, kind| Ok(Val { sql, kind });
        match e {
            Expr::Float(f) => val(self.p.bind(*f, "float8"), Kind::Number),
            Expr::Literal(s) => val(self.p.bind(s.clone(), "text"), Kind::Text),
            Expr::Bool(b) => val(self.p.bind(*b, "bool"), Kind::Bool),
            Expr::Null => val("NULL".into(), Kind::Null),
            Expr::Timestamp { .. } | Expr::Date { .. } => {
                let (t, _) = interval(e)?;
                val(self.p.bind(t, "timestamptz"), Kind::Time)
            }
            Expr::Property { property } => self.property(property),
            Expr::Operation { op, args } if op.eq_ignore_ascii_case("casei") && args.len() == 1 => {
                let v = self.scalar(&args[0])?;
                val(
                    format!("lower({})", self.coerce(v, Kind::Text)?),
                    Kind::Text,
                )
            }
            other => Err(bad(format!("{} is not a value here", text(other)))),
        }
    }

    fn property(&mut self, name: &str) -> Result<Val, ApiError> {
        let fixed = |sql: &str, kind| {
            Ok(Val {
                sql: sql.into(),
                kind,
            })
        };
        match name {
            "id" => return fixed(ID, Kind::Text),
            "collection" => return fixed(COLLECTION, Kind::Text),
            "datetime" => return fixed(KEY, Kind::Time),
            "start_datetime" => return fixed(START, Kind::Time),
            "end_datetime" => return fixed(END, Kind::Time),
            "geometry" => return Err(bad("geometry: compared by s_intersects or s_disjoint only")),
            _ => {}
        }
        if self.scope.iter().any(|p| p.field(name).is_some()) {
            self.specific = true;
        }
        if let Some((f, kind)) = self.product.and_then(|p| p.field(name)) {
            return Ok(Val {
                sql: format!("({})", f.sql("d.metadata")),
                kind,
            });
        }
        let key = self.p.bind(name.to_string(), "text");
        Ok(Val {
            sql: format!("(s.item->'properties'->{key})"),
            kind: Kind::Json,
        })
    }

    /// A value as SQL of kind `to` (an item property read as that type where it has it, else NULL).
    fn coerce(&mut self, v: Val, to: Kind) -> Result<String, ApiError> {
        let j = &v.sql;
        match (v.kind, to) {
            (a, b) if a == b => Ok(v.sql),
            (Kind::Null, _) => Ok("NULL".into()),
            (Kind::Json, Kind::Number) => Ok(format!(
                "(CASE WHEN jsonb_typeof({j}) = 'number' THEN ({j})::float8 END)"
            )),
            (Kind::Json, Kind::Text) => Ok(format!(
                "(CASE WHEN jsonb_typeof({j}) = 'string' THEN {j} #>> '{{}}' END)"
            )),
            (Kind::Json, Kind::Bool) => Ok(format!(
                "(CASE WHEN jsonb_typeof({j}) = 'boolean' THEN ({j})::boolean END)"
            )),
            (Kind::Json, Kind::Time) => Err(bad(
                "a time compares with datetime, start_datetime, end_datetime and date-time search \
                 fields only (see /queryables)",
            )),
            (Kind::Json, Kind::Null) => Ok(v.sql),
            (a, b) => Err(bad(format!(
                "cannot compare {} with {}",
                describe(a),
                describe(b)
            ))),
        }
    }

    /// Two values made comparable.
    fn unify(&mut self, a: Val, b: Val) -> Result<(String, String), ApiError> {
        let to = match (a.kind, b.kind) {
            (Kind::Json, k) | (k, Kind::Json) => k,
            (Kind::Null, k) | (k, Kind::Null) => k,
            (k, _) => k,
        };
        let to = if to == Kind::Null { Kind::Json } else { to };
        Ok((self.coerce(a, to)?, self.coerce(b, to)?))
    }

    fn spatial(&mut self, a: &Expr, b: &Expr) -> Result<String, ApiError> {
        let is_footprint =
            |e: &Expr| matches!(e, Expr::Property { property } if property == "geometry");
        let other = match (is_footprint(a), is_footprint(b)) {
            (true, false) => b,
            (false, true) => a,
            _ => {
                return Err(bad(
                    "a spatial operator compares the geometry property with a geometry literal",
                ))
            }
        };
        let geojson = match other {
            Expr::Geometry(g) => serde_json::to_value(g).map_err(|e| bad(e.to_string()))?,
            Expr::BBox { bbox } => {
                let v: Vec<f64> = bbox
                    .iter()
                    .map(|x| match x.as_ref() {
                        Expr::Float(f) => Some(*f),
                        _ => None,
                    })
                    .collect::<Option<_>>()
                    .ok_or_else(|| bad("BBOX takes numbers"))?;
                let [w, s, e, n] = match v.as_slice() {
                    [w, s, e, n] | [w, s, _, e, n, _] => [*w, *s, *e, *n],
                    _ => return Err(bad("BBOX takes 4 or 6 numbers")),
                };
                serde_json::json!({"type": "Polygon",
                    "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]})
            }
            other => return Err(bad(format!("{} is not a geometry", text(other)))),
        };
        let g = Geometry::parse(&geojson)
            .map_err(|e| bad(e.description.trim_start_matches("intersects: ").to_string()))?;
        let boxed = [0, 1, 2, 3].map(bbox_sql);
        let exact = g.sql(self.p, [&boxed[0], &boxed[1], &boxed[2], &boxed[3]]);
        // The product's lat/lon ranges (datacube's dix_ index expressions) around the envelope.
        if self.scope.iter().any(|p| p.has_ranges(true, false)) {
            self.specific = true;
        }
        let ranges = match self.product {
            Some(product) => product.ranges_sql(Some(g.envelope()), None, self.p),
            None => Vec::new(),
        };
        if ranges.is_empty() {
            return Ok(exact);
        }
        Ok(format!("({} AND {exact})", ranges.join(" AND ")))
    }

    fn temporal(&mut self, op: &str, a: &Expr, b: &Expr) -> Result<String, ApiError> {
        let item = |e: &Expr| match e {
            Expr::Property { property } => match property.as_str() {
                "datetime" => Some((START, END)),
                "start_datetime" => Some((START, START)),
                "end_datetime" => Some((END, END)),
                _ => None,
            },
            _ => None,
        };
        let (op, (a1, a2), lit) = match (item(a), item(b)) {
            (Some(i), None) => (op, i, b),
            (None, Some(i)) => (inverse(op), i, a),
            _ => {
                return Err(bad(format!(
                    "{op} compares datetime (or start_datetime, end_datetime) with a time or \
                     interval literal"
                )))
            }
        };
        let (t1, t2) = interval(lit)?;
        if op == "t_intersects" && a1 == START && a2 == END {
            // The product's time range (datacube's dix_ index expression), as `etlake search --time`.
            if self.scope.iter().any(|p| p.has_ranges(false, true)) {
                self.specific = true;
            }
            if let Some(product) = self.product {
                let c = product.ranges_sql(None, Some((t1, t2)), self.p);
                if !c.is_empty() {
                    return Ok(format!("({})", c.join(" AND ")));
                }
            }
        }
        let b1 = format!(
            "coalesce({}, '-infinity'::timestamptz)",
            self.p.bind(t1, "timestamptz")
        );
        let b2 = format!(
            "coalesce({}, 'infinity'::timestamptz)",
            self.p.bind(t2, "timestamptz")
        );
        let c = allen(op, a1, a2, &b1, &b2)
            .ok_or_else(|| bad(format!("temporal operator {op:?} is not known")))?;
        Ok(format!("({c})"))
    }
}

fn describe(k: Kind) -> &'static str {
    match k {
        Kind::Text => "a string",
        Kind::Number => "a number",
        Kind::Time => "a time",
        Kind::Bool => "a boolean",
        Kind::Json => "an item property",
        Kind::Null => "null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sql(f: Value, get: bool) -> Result<(String, usize), ApiError> {
        let e = parse(&f, None, get)?;
        let mut p = Params::default();
        let s = to_sql(&e, &[], &mut p)?;
        Ok((s, p.len()))
    }

    #[test]
    fn text_and_json_become_bound_sql() {
        let (a, n) = sql(
            json!("id = 'x''; DROP TABLE t' AND collection IN ('a', 'b')"),
            true,
        )
        .unwrap();
        assert!(!a.contains("DROP") && n == 2, "{a}");
        let (b, _) = sql(
            json!({"op": "and", "args": [{"op": "=", "args": [{"property": "id"}, "x"]},
                {"op": "in", "args": [{"property": "collection"}, ["a", "b"]]}]}),
            false,
        )
        .unwrap();
        assert_eq!(a, b);
        // GET with cql2-json (as pystac-client sends a dict filter by GET).
        let get_json = json!(r#"{"op": "=", "args": [{"property": "id"}, "x"]}"#);
        assert!(parse(&get_json, Some("cql2-json"), true).is_ok());
        let (c, _) = sql(
            json!("eo:cloud_cover BETWEEN 0 AND 50 OR mission NOT LIKE 'sentinel%'"),
            true,
        )
        .unwrap();
        assert!(
            c.contains("BETWEEN") && c.contains("NOT") && c.contains("LIKE"),
            "{c}"
        );
        let (d, _) = sql(
            json!("T_INTERSECTS(datetime, INTERVAL('2020-11-11T00:00:00Z', '..'))"),
            true,
        )
        .unwrap();
        assert!(d.contains("'infinity'"), "{d}");
        let (e, _) = sql(
            json!("S_INTERSECTS(geometry, POLYGON((0 0, 2 1, 1 2, 0 0)))"),
            true,
        )
        .unwrap();
        assert!(e.contains("?#"), "{e}");
    }

    #[test]
    fn bad_filters_say_why() {
        for (f, get, why) in [
            (json!("id = "), true, "not valid cql2-text"),
            (json!({"nope": 1}), false, "not valid cql2-json"),
            (json!("datetime = 'x' + 1"), true, "not a value"),
            (
                json!("S_WITHIN(geometry, POINT(0 0))"),
                true,
                "not supported",
            ),
            (json!("id = 3"), true, "cannot compare"),
            (
                json!("foo > TIMESTAMP('2020-01-01T00:00:00Z')"),
                true,
                "a time compares",
            ),
            (
                json!("S_INTERSECTS(geometry, POLYGON((0 0, 1 1, 0 0)))"),
                true,
                "ring",
            ),
            (json!("(".repeat(100)), true, "nested"),
            (json!(5), false, "cql2-json is an object"),
        ] {
            let e = sql(f.clone(), get).unwrap_err();
            assert!(
                e.description.starts_with("filter: ") && e.description.contains(why),
                "{f}: {e:?}"
            );
        }
        assert!(parse(&json!("id = 'a'"), Some("cql2-xml"), true)
            .unwrap_err()
            .description
            .starts_with("filter-lang"));
    }
}
