//! `--time A/B` for a sync: whole days, each end a date (`2023-01-05`), a month (`2023-01`) or a
//! year (`2023`); a single value is the whole of it.
use chrono::{Datelike, NaiveDate};

fn bound(s: &str, end: bool) -> Option<NaiveDate> {
    let s = s.trim();
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str| p.parse::<u32>().ok();
    match parts.as_slice() {
        [y] if y.len() == 4 => {
            let y = num(y)? as i32;
            if end {
                NaiveDate::from_ymd_opt(y, 12, 31)
            } else {
                NaiveDate::from_ymd_opt(y, 1, 1)
            }
        }
        [y, m] if y.len() == 4 => {
            let first = NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, 1)?;
            if end {
                let next = first.checked_add_months(chrono::Months::new(1))?;
                next.pred_opt()
            } else {
                Some(first)
            }
        }
        [_, _, _] => NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok(),
        _ => None,
    }
}

/// Parses `A/B` (or a single value) into first and last day, inclusive.
pub fn parse(s: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let (a, b) = s.split_once('/').unwrap_or((s, s));
    let bad = |v: &str| format!("--time {s}: {v:?} is not a date (YYYY-MM-DD, YYYY-MM or YYYY)");
    let first = bound(a, false).ok_or_else(|| bad(a))?;
    let last = bound(b, true).ok_or_else(|| bad(b))?;
    if last < first {
        return Err(format!("--time {s}: the end is before the start"));
    }
    Ok((first, last))
}

/// The calendar years the range touches.
pub fn years(r: (NaiveDate, NaiveDate)) -> std::ops::RangeInclusive<i32> {
    r.0.year()..=r.1.year()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(
            parse("2023-01-05/2023-02-01").unwrap(),
            (d(2023, 1, 5), d(2023, 2, 1))
        );
        assert_eq!(parse("2024-02").unwrap(), (d(2024, 2, 1), d(2024, 2, 29)));
        assert_eq!(
            parse("2020/2021").unwrap(),
            (d(2020, 1, 1), d(2021, 12, 31))
        );
        assert!(parse("2023-02-01/2023-01-01").is_err());
        assert!(parse("yesterday").is_err());
        assert_eq!(years(parse("2019-12/2021-01").unwrap()), 2019..=2021);
    }
}
