//! CQL2 time literals and the temporal operators: a timestamp, date or `INTERVAL` as a closed
//! interval with open ends, and each `T_*` relation (OGC 21-065r2) of two intervals as SQL.
use crate::error::ApiError;
use chrono::{DateTime, Utc};
use cql2::{DateRange, Expr};

/// A time interval; None is an open end.
pub type Interval = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn bad(why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("filter: {why}"))
}

fn text(e: &Expr) -> String {
    e.to_text().unwrap_or_else(|_| format!("{e:?}"))
}

fn timestamp(range: &DateRange, end: bool) -> Result<DateTime<Utc>, ApiError> {
    let t = if end { range.end } else { range.start };
    DateTime::from_timestamp_micros(t.as_microsecond())
        .ok_or_else(|| bad(format!("time {t} is out of range")))
}

/// A time literal as an interval (open ends None): a timestamp is an instant, a date its whole day.
pub fn interval(e: &Expr) -> Result<Interval, ApiError> {
    let one = |e: &Expr, end: bool| -> Result<Option<DateTime<Utc>>, ApiError> {
        if let Expr::Literal(s) = e {
            if s == ".." {
                return Ok(None);
            }
        }
        let r = DateRange::try_from(e.clone())
            .map_err(|err| bad(format!("{}: not a time ({err})", text(e))))?;
        timestamp(&r, end).map(Some)
    };
    match e {
        Expr::Interval { interval } => match interval.as_slice() {
            [a, b] => Ok((one(a, false)?, one(b, true)?)),
            _ => Err(bad("an INTERVAL has two ends")),
        },
        Expr::Timestamp { .. } | Expr::Date { .. } => Ok((one(e, false)?, one(e, true)?)),
        other => Err(bad(format!("{}: expected a time or interval", text(other)))),
    }
}

/// The temporal relation `op` of item interval (a1, a2) and interval (b1, b2), from OGC 21-065r2.
pub fn allen(op: &str, a1: &str, a2: &str, b1: &str, b2: &str) -> Option<String> {
    Some(match op {
        "t_before" => format!("{a2} < {b1}"),
        "t_after" => format!("{a1} > {b2}"),
        "t_meets" => format!("{a2} = {b1}"),
        "t_metby" => format!("{a1} = {b2}"),
        "t_overlaps" => format!("{a1} < {b1} AND {b1} < {a2} AND {a2} < {b2}"),
        "t_overlappedby" => format!("{b1} < {a1} AND {a1} < {b2} AND {b2} < {a2}"),
        "t_starts" => format!("{a1} = {b1} AND {a2} < {b2}"),
        "t_startedby" => format!("{a1} = {b1} AND {a2} > {b2}"),
        "t_during" => format!("{a1} > {b1} AND {a2} < {b2}"),
        "t_contains" => format!("{a1} < {b1} AND {a2} > {b2}"),
        "t_finishes" => format!("{a1} > {b1} AND {a2} = {b2}"),
        "t_finishedby" => format!("{a1} < {b1} AND {a2} = {b2}"),
        "t_equals" => format!("{a1} = {b1} AND {a2} = {b2}"),
        "t_disjoint" => format!("NOT ({a1} <= {b2} AND {a2} >= {b1})"),
        "t_intersects" => format!("{a1} <= {b2} AND {a2} >= {b1}"),
        _ => return None,
    })
}

/// The same relation with its operands exchanged.
pub fn inverse(op: &str) -> &str {
    match op {
        "t_before" => "t_after",
        "t_after" => "t_before",
        "t_meets" => "t_metby",
        "t_metby" => "t_meets",
        "t_overlaps" => "t_overlappedby",
        "t_overlappedby" => "t_overlaps",
        "t_starts" => "t_startedby",
        "t_startedby" => "t_starts",
        "t_during" => "t_contains",
        "t_contains" => "t_during",
        "t_finishes" => "t_finishedby",
        "t_finishedby" => "t_finishes",
        other => other,
    }
}
