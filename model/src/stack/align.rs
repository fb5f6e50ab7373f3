//! Time alignment for models: a stack's steps turned into one array per calendar day — exact days,
//! composites interpolated linearly from their start, day-of-year climatologies, static layers.
use crate::{Error, Result, Stack};
use chrono::{Datelike, NaiveDate};

/// How a product's time axis maps onto days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    /// One step per day (daily products): the step whose start falls on the day.
    Daily,
    /// Composites (16-day NDVI): linear between consecutive composites anchored at their start date,
    /// dividing by the actual anchor distance (`fixed16 = false`) or by 16 as the reference does.
    Interpolate {
        /// Divide by 16 whatever the anchor distance (reference-compatible).
        fixed16: bool,
    },
    /// Day-of-year climatology: the step whose start has the day's day-of-year (1–366).
    Climatology,
    /// A static layer (first step) broadcast over every day.
    Static,
}

/// Values of `layer` for each of `days` (day-major, `days.len() × pixels`), nodata turned into NaN.
/// A day without its input is an error naming the product, the measurement and the date.
pub fn to_daily(
    stack: &Stack,
    layer: &str,
    days: &[NaiveDate],
    how: Alignment,
) -> Result<Vec<f64>> {
    to_daily_map(stack, layer, days, how, |v| v)
}

/// [`to_daily`] with `map` applied to every value as it is written (one pass over the days, e.g. a
/// model input's change of units and precision).
pub fn to_daily_map<T>(
    stack: &Stack,
    layer: &str,
    days: &[NaiveDate],
    how: Alignment,
    map: impl Fn(f64) -> T,
) -> Result<Vec<T>> {
    let l = stack.layer(layer).ok_or_else(|| {
        Error::Request(format!("stack of {} has no layer {layer:?}", stack.product))
    })?;
    let n = stack.pixels();
    let starts: Vec<NaiveDate> = stack.spans.iter().map(|s| s.0.date_naive()).collect();
    let missing = |d: &NaiveDate, what: &str| {
        Error::Request(format!(
            "{} ({layer}) has no {what} for {d}: index it or change the period",
            stack.product
        ))
    };
    let nodata = l.nodata_test();
    let clean = |v: f64| if nodata(v) { f64::NAN } else { v };
    let mut out = Vec::with_capacity(days.len() * n);
    for d in days {
        match how {
            Alignment::Static => {
                if starts.is_empty() {
                    return Err(missing(d, "static layer"));
                }
                out.extend(l.step(0, n).iter().map(|&v| map(clean(v))));
            }
            Alignment::Daily => {
                let t = starts
                    .iter()
                    .position(|s| s == d)
                    .ok_or_else(|| missing(d, "dataset"))?;
                out.extend(l.step(t, n).iter().map(|&v| map(clean(v))));
            }
            Alignment::Climatology => {
                let t = starts
                    .iter()
                    .position(|s| s.ordinal() == d.ordinal())
                    .ok_or_else(|| missing(d, &format!("day-of-year {} step", d.ordinal())))?;
                out.extend(l.step(t, n).iter().map(|&v| map(clean(v))));
            }
            Alignment::Interpolate { fixed16 } => {
                let i = starts
                    .iter()
                    .rposition(|s| s <= d)
                    .ok_or_else(|| missing(d, "composite starting on or before it"))?;
                if starts[i] == *d {
                    out.extend(l.step(i, n).iter().map(|&v| map(clean(v))));
                    continue;
                }
                let j = i + 1;
                if j >= starts.len() {
                    return Err(missing(d, "composite after it to interpolate towards"));
                }
                let b = (*d - starts[i]).num_days() as f64;
                let gap = if fixed16 {
                    16.0
                } else {
                    (starts[j] - starts[i]).num_days() as f64
                };
                let w = b / gap;
                let (a, z) = (l.step(i, n), l.step(j, n));
                out.extend(
                    a.iter()
                        .zip(z)
                        .map(|(&x, &y)| map(clean(x) + w * (clean(y) - clean(x)))),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Packing;
    use crate::{GeoBox, Layer};
    use chrono::{TimeZone, Utc};

    fn stack(starts: &[(i32, u32, u32)], values: &[[f64; 2]]) -> Stack {
        let t = |&(y, m, d): &(i32, u32, u32)| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
        Stack {
            product: "p".into(),
            geobox: GeoBox::from_bbox("EPSG:4326", [0.0, 0.0, 2.0, 1.0], 1.0, -1.0, None).unwrap(),
            times: starts.iter().map(t).collect(),
            sources: vec![vec![]; starts.len()],
            spans: starts.iter().map(|s| (t(s), t(s))).collect(),
            layers: vec![Layer {
                name: "v".into(),
                dtype: "int16".into(),
                nodata: Some(-3000.0),
                units: None,
                packing: Packing::NONE,
                unpacked: None,
                data: values.iter().flatten().copied().collect(),
            }],
        }
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn composites_interpolate_from_their_start_by_the_anchor_gap() {
        // Composites of 2020-12-18 (DOY 353) and 2021-01-01: 14 days apart after a leap year.
        let s = stack(
            &[(2020, 12, 18), (2021, 1, 1)],
            &[[1000.0, -3000.0], [2400.0, 500.0]],
        );
        let v = to_daily(
            &s,
            "v",
            &[day(2020, 12, 18), day(2020, 12, 25)],
            Alignment::Interpolate { fixed16: false },
        )
        .unwrap();
        assert_eq!(v[0], 1000.0);
        assert!(v[1].is_nan(), "nodata is NaN");
        assert_eq!(v[2], 1000.0 + 7.0 * 1400.0 / 14.0);
        assert!(v[3].is_nan(), "one nodata end makes the day NaN");
        let f = to_daily(
            &s,
            "v",
            &[day(2020, 12, 25)],
            Alignment::Interpolate { fixed16: true },
        )
        .unwrap();
        assert_eq!(f[0], 1000.0 + 7.0 * 1400.0 / 16.0);
        let e = to_daily(
            &s,
            "v",
            &[day(2021, 1, 2)],
            Alignment::Interpolate { fixed16: false },
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("p (v)") && e.contains("2021-01-02"), "{e}");
    }

    #[test]
    fn daily_climatology_and_static_selection() {
        let s = stack(&[(2001, 3, 1), (2001, 3, 2)], &[[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(
            to_daily(&s, "v", &[day(2001, 3, 2)], Alignment::Daily).unwrap(),
            [3.0, 4.0]
        );
        let e = to_daily(&s, "v", &[day(2001, 3, 3)], Alignment::Daily)
            .unwrap_err()
            .to_string();
        assert!(e.contains("2001-03-03"), "{e}");
        // 2020 is a leap year: 2020-03-01 is DOY 61, which 2001-03-02 has.
        assert_eq!(
            to_daily(&s, "v", &[day(2020, 3, 1)], Alignment::Climatology).unwrap(),
            [3.0, 4.0]
        );
        assert_eq!(
            to_daily(
                &s,
                "v",
                &[day(2030, 7, 1), day(2030, 7, 2)],
                Alignment::Static
            )
            .unwrap(),
            [1.0, 2.0, 1.0, 2.0]
        );
    }
}
