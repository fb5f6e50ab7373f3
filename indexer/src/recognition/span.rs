//! A spec's time rule (`time.start`, `time.end`, `period`, `per_band`) applied to a file's captured
//! fields or to literal dates: the calendar arithmetic (days of year, months, half hours, inclusive ends
//! to the microsecond) that makes a dataset's span, kept apart from matching and loading specs.
use super::{fill, TimeRule};
use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime};
use std::collections::BTreeMap;

/// A dataset's time span as the rule gives it, from the captured fields (none for literal times).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: NaiveDate,
    /// Last day, inclusive.
    pub(super) end: NaiveDate,
    /// Times of day, when the rule has them (else whole days).
    pub(super) start_time: Option<NaiveTime>,
    pub(super) end_time: Option<NaiveTime>,
}

impl Span {
    /// `time.start` (a date, optionally with a time of day), then `time.end` (the last second, or
    /// day, stated), else `period` after the start; a per-band file runs to the end of its year.
    pub(super) fn of(
        time: &TimeRule,
        fields: &BTreeMap<String, String>,
    ) -> std::result::Result<Self, String> {
        let start_text = fill(&time.start, fields);
        let (start, start_time) =
            parse_start(&start_text).ok_or_else(|| format!("{start_text:?} is not a date"))?;
        let at = start.and_time(start_time.unwrap_or(NaiveTime::MIN));
        // The last instant (inclusive, to the microsecond).
        let last: NaiveDateTime = if time.per_band {
            start
                .with_month(12)
                .and_then(|d| d.with_day(31))
                .unwrap_or(start)
                .and_time(last_instant(NaiveTime::MIN, Duration::days(1)))
        } else if let Some(end) = &time.end {
            let end_text = fill(end, fields);
            let (d, t) =
                parse_start(&end_text).ok_or_else(|| format!("{end_text:?} is not a date"))?;
            // The end names its last unit: a day, a minute (`T00:29`) or a second (`T00:29:59`).
            let has_seconds = end_text
                .split_once('T')
                .is_some_and(|(_, clock)| clock.matches(':').count() >= 2);
            let end = d.and_time(last_instant(
                t.unwrap_or(NaiveTime::MIN),
                match t {
                    Some(_) if has_seconds => Duration::seconds(1),
                    Some(_) => Duration::minutes(1),
                    None => Duration::days(1),
                },
            ));
            if end < at {
                return Err(format!(
                    "the end {end_text} is before the start {start_text}"
                ));
            }
            end
        } else {
            let p = parse_period(&time.period)
                .ok_or_else(|| format!("time.period: {:?} is not a period", time.period))?;
            add_period(at, p).ok_or_else(|| "period overflows the calendar".to_string())?
                - Duration::microseconds(1)
        };
        let timed = start_time.is_some() || time.end.is_some();
        Ok(Span {
            start,
            end: last.date(),
            start_time: timed.then_some(at.time()),
            end_time: timed.then_some(last.time()),
        })
    }
}

/// `2023-01-05` (date), `2023-161` (day of year), `2023-07` (month) or `2023` (year), optionally
/// followed by `T13:30` or `T13:30:00` (time of day).
pub(super) fn parse_start(s: &str) -> Option<(NaiveDate, Option<NaiveTime>)> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let num = |p: &str| p.parse::<u32>().ok();
    let date = match parts.as_slice() {
        [y, m, d] => NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, num(d)?),
        [y, doy] if doy.len() == 3 => NaiveDate::from_yo_opt(num(y)? as i32, num(doy)?),
        [y, m] => NaiveDate::from_ymd_opt(num(y)? as i32, num(m)?, 1),
        [y] => NaiveDate::from_ymd_opt(num(y)? as i32, 1, 1),
        _ => None,
    }?;
    let time = match time {
        None => None,
        Some(t) => {
            let hms: Vec<u32> = t.split(':').map(num).collect::<Option<_>>()?;
            match hms.as_slice() {
                [h, m] => Some(NaiveTime::from_hms_opt(*h, *m, 0)?),
                [h, m, s] => Some(NaiveTime::from_hms_opt(*h, *m, *s)?),
                _ => return None,
            }
        }
    };
    Some((date, time))
}

/// The last microsecond of the interval of length `unit` starting at `t` (a day: 23:59:59.999999).
fn last_instant(t: NaiveTime, unit: Duration) -> NaiveTime {
    t.overflowing_add_signed(unit - Duration::microseconds(1)).0
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Period {
    Days(i64),
    Months(u32),
    Seconds(i64),
}

pub(super) fn parse_period(p: &str) -> Option<Period> {
    if let Some(body) = p.strip_prefix("PT") {
        let (n, unit) = body.split_at(body.len().checked_sub(1)?);
        let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
        return match unit {
            "H" => Some(Period::Seconds(3600 * n)),
            "M" => Some(Period::Seconds(60 * n)),
            "S" => Some(Period::Seconds(n)),
            _ => None,
        };
    }
    let body = p.strip_prefix('P')?;
    let (n, unit) = body.split_at(body.len().checked_sub(1)?);
    let n: u32 = n.parse().ok().filter(|n| *n > 0)?;
    match unit {
        "D" => Some(Period::Days(n as i64)),
        "W" => Some(Period::Days(7 * n as i64)),
        "M" => Some(Period::Months(n)),
        "Y" => Some(Period::Months(12 * n)),
        _ => None,
    }
}

fn add_period(d: NaiveDateTime, p: Period) -> Option<NaiveDateTime> {
    match p {
        Period::Days(n) => d.checked_add_signed(Duration::days(n)),
        Period::Months(n) => d.checked_add_months(Months::new(n)),
        Period::Seconds(n) => d.checked_add_signed(Duration::seconds(n)),
    }
}

#[cfg(test)]
mod tests {
    use crate::recognition::Recogniser;
    use chrono::{NaiveDate, NaiveTime};

    const HHR: &str = r#"
product: hhr
file_format: HDF5
templates: ["3B-HHR{run:/(-E|-L)?/}.MS.MRG.3IMERG.{year:4}{month:2}{day:2}-S{sh:2}{sm:2}{ss:2}-E{eh:2}{em:2}{es:2}.{minutes:4}.{version:/V07[A-Z]/}.HDF5"]
time: {start: "{year}-{month}-{day}T{sh}:{sm}:{ss}", end: "{year}-{month}-{day}T{eh}:{em}:{es}", period: PT30M}
maturity: "{run}"
maturity_map: {"": final, "-L": interim, "-E": nrt}
measurements: {precipitation: {layer: //Grid/precipitation}}
"#;

    #[test]
    fn half_hours_take_their_span_from_the_file_name() {
        let mut r = Recogniser::default();
        r.add("hhr.yaml", HHR).unwrap();
        let t = |h, m, s, us| NaiveTime::from_hms_micro_opt(h, m, s, us).unwrap();
        let m = r
            .recognise("3B-HHR.MS.MRG.3IMERG.20240115-S233000-E235959.1410.V07B.HDF5")
            .unwrap()
            .unwrap();
        let d = NaiveDate::from_ymd_opt(2024, 1, 15).unwrap();
        assert_eq!((m.start, m.end), (d, d));
        assert_eq!(m.start_time, Some(t(23, 30, 0, 0)));
        assert_eq!(m.end_time, Some(t(23, 59, 59, 999_999)));
        assert_eq!(m.maturity.as_deref(), Some("final"));
        let m = r
            .recognise("3B-HHR-E.MS.MRG.3IMERG.20240229-S120000-E122959.0720.V07B.HDF5")
            .unwrap()
            .unwrap();
        assert_eq!(m.start_time, Some(t(12, 0, 0, 0)));
        assert_eq!(m.end_time, Some(t(12, 29, 59, 999_999)));
        assert_eq!(m.maturity.as_deref(), Some("nrt"));
        // An end before the start, or an hour 24, is an error naming the file.
        for bad in [
            "3B-HHR.MS.MRG.3IMERG.20240115-S003000-E002959.0030.V07B.HDF5",
            "3B-HHR.MS.MRG.3IMERG.20240115-S240000-E242959.1440.V07B.HDF5",
        ] {
            let e = r.recognise(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        // Without `end`, the period gives the span; dates without times keep whole days.
        let mut r = Recogniser::default();
        r.add(
            "p.yaml",
            "product: p\nfile_format: GeoTIFF\ntemplates: ['x_{y:4}{m:2}{d:2}{h:2}{mi:2}.tif']\n\
            time: {start: '{y}-{m}-{d}T{h}:{mi}', period: PT1H}\nmeasurements: {v: {band: 1}}\n",
        )
        .unwrap();
        let m = r.recognise("x_202012312330.tif").unwrap().unwrap();
        assert_eq!(m.end, NaiveDate::from_ymd_opt(2021, 1, 1).unwrap());
        assert_eq!(m.end_time, Some(t(0, 29, 59, 999_999)));
        // An end given to the minute ends at that minute's last instant, not its first second.
        let mut r = Recogniser::default();
        r.add(
            "m.yaml",
            "product: p\nfile_format: GeoTIFF\ntemplates: ['y_{y:4}{m:2}{d:2}-S{sh:2}{sm:2}-E{eh:2}{em:2}.tif']\n\
            time: {start: '{y}-{m}-{d}T{sh}:{sm}', end: '{y}-{m}-{d}T{eh}:{em}', period: PT30M}\nmeasurements: {v: {band: 1}}\n",
        )
        .unwrap();
        let m = r.recognise("y_20240115-S0000-E0029.tif").unwrap().unwrap();
        assert_eq!(m.end_time, Some(t(0, 29, 59, 999_999)));
        let e = Recogniser::default()
            .add("q.yaml", "product: p\nfile_format: GeoTIFF\ntemplates: ['x.tif']\ntime: {start: '2020', period: PT}\nmeasurements: {}\n")
            .unwrap_err();
        assert!(e.to_string().contains("PT<n>H/M/S"), "{e}");
    }

    #[test]
    fn literal_starts_take_times_of_day_and_ends() {
        let spec = |time: &str| {
            format!("product: a\nfile_format: GeoTIFF\ntemplates: [a.tif]\ntime: {time}\nmeasurements: {{a: {{band: 1}}}}\n")
        };
        let t = |h, m, s, us| NaiveTime::from_hms_micro_opt(h, m, s, us).unwrap();
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        // A fixed half hour (a user's one IMERG-like file), a fixed end, and a period in hours.
        let cases = [
            (
                "{start: '2020-07-01T06:30', period: PT30M}",
                (d(2020, 7, 1), d(2020, 7, 1)),
                (Some(t(6, 30, 0, 0)), Some(t(6, 59, 59, 999_999))),
            ),
            (
                "{start: '2020-183', end: '2020-07-03', period: P1D}",
                (d(2020, 7, 1), d(2020, 7, 3)),
                (Some(t(0, 0, 0, 0)), Some(t(23, 59, 59, 999_999))),
            ),
            (
                "{start: '2020-12-31T23:00:00', end: '2021-01-01T00:59:59', period: PT1H}",
                (d(2020, 12, 31), d(2021, 1, 1)),
                (Some(t(23, 0, 0, 0)), Some(t(0, 59, 59, 999_999))),
            ),
        ];
        for (time, days, times) in cases {
            let mut r = Recogniser::default();
            r.add("a.yaml", &spec(time)).unwrap();
            let m = r.recognise("/l/a.tif").unwrap().unwrap();
            assert_eq!(
                ((m.start, m.end), (m.start_time, m.end_time)),
                (days, times),
                "{time}"
            );
        }
        // Literal times that make no date, or an end before the start, are refused at load.
        for (time, says) in [
            (
                "{start: '2020-07-01T25:00', period: PT1H}",
                "time.start: \"2020-07-01T25:00\" is not a date",
            ),
            (
                "{start: '2020', end: '2020-02-30', period: P1D}",
                "time.end: \"2020-02-30\" is not a date",
            ),
            (
                "{start: '2020-07-02', end: '2020-07-01', period: P1D}",
                "before the start",
            ),
        ] {
            let e = Recogniser::default()
                .add("a.yaml", &spec(time))
                .unwrap_err()
                .to_string();
            assert!(e.contains("a.yaml") && e.contains(says), "{time}: {e}");
        }
    }
}
