//! One tile's sums as its days go by — monthly and annual totals of the outputs, valid days, and the
//! per-pixel terms of the water-balance check — and its rows of every file written as each day, month
//! and year ends. Pixels are added a range at a time: from a day's outputs, or (no daily files) by the
//! kernel straight into [`Targets`].
use super::balance::Balance;
use super::fast::Targets;
use super::ledger::MonthPart;
use super::outputs::{exact_layer, layers, masked, Files, ANNUAL, MONTHLY, MONTHLY_PRODUCT};
use super::{Day, Input, Outputs, State};
use crate::{Error, GeoBox, Result};
use chrono::{Datelike, NaiveDate};
use std::ops::Range;

/// Sums of named variables per pixel.
struct Sums {
    names: &'static [&'static str],
    values: Vec<Vec<f64>>,
    valid_days: Vec<f64>,
}

impl Sums {
    fn new(names: &'static [&'static str], n: usize) -> Sums {
        Sums {
            names,
            values: vec![vec![0.0; n]; names.len()],
            valid_days: vec![0.0; n],
        }
    }
}

/// What a tile sums each day (per month): the monthly variables, then the annual ones that are not
/// monthly. The annual totals are the months' sums added at each month's end.
const SUMMED: [&str; 9] = [
    "etasw",
    "dd",
    "srf",
    "etc",
    "netet",
    "p",
    "intercept",
    "rain",
    "swe",
];

/// A daily output by name (every name of `DAILY_NAMES` is one).
fn daily<'a>(o: &'a Outputs, name: &str) -> &'a [f64] {
    o.by_name(name).unwrap_or(&[])
}

/// One tile's sums as the days go by, its rows of every file written as each day, month and year
/// ends.
pub struct TileAcc<'a> {
    files: &'a Files,
    tile: GeoBox,
    row0: usize,
    day: usize,
    month: Option<(i32, u32)>,
    year: Option<i32>,
    m: Sums,
    y: Sums,
    parts: Vec<MonthPart>,
    // Balance terms per pixel.
    p: Vec<f64>,
    out_terms: Vec<f64>,
    eta_total: Vec<f64>,
    land: Vec<bool>,
    seen: Vec<bool>,
    sw0: Vec<f64>,
    pack0: Vec<f64>,
    last_state: (Vec<f64>, Vec<f64>),
}

/// (sum, count) of the finite values of `v` on pixels with valid days.
fn part(v: &[f64], days: &[f64]) -> (f64, u64) {
    let (mut s, mut k) = (0.0, 0u64);
    for (x, d) in v.iter().zip(days) {
        if *d > 0.0 && x.is_finite() {
            s += x;
            k += 1;
        }
    }
    (s, k)
}

impl<'a> TileAcc<'a> {
    /// Starts tile `tile` (rows from `row0` of the run's grid) from `state` (a fresh state starts at
    /// half the water-holding capacity).
    pub fn new(
        files: &'a Files,
        tile: &GeoBox,
        row0: usize,
        state: &State,
        whc: &[f64],
    ) -> TileAcc<'a> {
        let n = state.swf.len();
        let sw0 = (0..n)
            .map(|i| {
                if state.started[i] {
                    state.swf[i]
                } else {
                    0.5 * whc[i]
                }
            })
            .collect();
        TileAcc {
            files,
            tile: tile.clone(),
            row0,
            day: 0,
            month: None,
            year: None,
            m: Sums::new(&SUMMED, n),
            y: Sums::new(ANNUAL, n),
            parts: Vec::new(),
            p: vec![0.0; n],
            out_terms: vec![0.0; n],
            eta_total: vec![0.0; n],
            land: vec![true; n],
            seen: vec![false; n],
            sw0,
            pack0: state.pack.clone(),
            last_state: (state.swf.clone(), state.pack.clone()),
        }
    }

    /// Starts day `date`: the month and year it ends are flushed (their files written).
    pub fn begin_day(&mut self, date: NaiveDate) -> Result<()> {
        if self.month.is_some_and(|m| m != (date.year(), date.month())) {
            self.flush_month()?;
        }
        if self.year.is_some_and(|y| y != date.year()) {
            self.flush_year()?;
        }
        self.month = Some((date.year(), date.month()));
        self.year = Some(date.year());
        Ok(())
    }

    /// Writes the tile's rows of the day's daily file (the variables `names`, then `gap_days`).
    pub fn write_daily(&self, names: &[&str], o: &Outputs, state: &State) -> Result<()> {
        let mut data: Vec<Vec<f64>> = names.iter().map(|v| daily(o, v).to_vec()).collect();
        data.push(state.gap_days.iter().map(|&g| g as f64).collect());
        self.files.daily[self.day].write_lazily(
            &self.tile,
            self.row0,
            layers(names, "gap_days", Some(data)),
        )
    }

    /// Adds pixels `at` of the day's outputs (where ETa is a number): each sum in a loop of its own
    /// (the output looked up once, not once a pixel), then the per-pixel bookkeeping in one pass.
    pub fn add<T: Input>(&mut self, d: &Day<'_, T>, water: &[f64], o: &Outputs, at: Range<usize>) {
        let eta = &o.etasw[at.clone()];
        for (k, name) in SUMMED.iter().enumerate() {
            let sums = &mut self.m.values[k][at.clone()];
            // An output, or the day's precipitation for `p` (a monthly sum beside the outputs).
            match o.by_name(name) {
                Some(add) => {
                    for ((s, &x), e) in sums.iter_mut().zip(&add[at.clone()]).zip(eta) {
                        if e.is_finite() {
                            *s += x;
                        }
                    }
                }
                None => {
                    for ((s, &x), e) in sums.iter_mut().zip(&d.p[at.clone()]).zip(eta) {
                        if e.is_finite() {
                            *s += x.into();
                        }
                    }
                }
            }
        }
        for i in at {
            if !o.etasw[i].is_finite() {
                continue;
            }
            self.m.valid_days[i] += 1.0;
            self.seen[i] = true;
            self.p[i] += d.p[i].into();
            self.out_terms[i] += o.intercept[i] + o.etasw[i] + o.srf[i] + o.dd[i];
            self.eta_total[i] += o.etasw[i];
            if water[i] != 0.0 || d.ndvi[i].into() < 0.0 {
                self.land[i] = false;
            }
        }
    }

    /// Where the kernel adds a day's fluxes itself (no daily outputs but ETa written), the day's ETa
    /// going to `eta`.
    pub fn targets<'b>(&'b mut self, eta: &'b mut [f64]) -> Targets<'b> {
        let [etasw, dd, srf, etc, netet, p, intercept, rain, swe] = &mut self.m.values[..] else {
            unreachable!("a tile sums the nine SUMMED variables")
        };
        Targets {
            eta,
            sums: [etasw, dd, srf, etc, netet, p, intercept, rain, swe],
            days: &mut self.m.valid_days,
            seen: &mut self.seen,
            p: &mut self.p,
            out_terms: &mut self.out_terms,
            eta_total: &mut self.eta_total,
            land: &mut self.land,
        }
    }

    /// Ends day `date`: the state is kept at a month's end, for its summary row (`finish` takes the
    /// period's last).
    pub fn end_day(&mut self, date: NaiveDate, state: &State) {
        if date.succ_opt().is_none_or(|n| n.month() != date.month()) {
            self.last_state.0.copy_from_slice(&state.swf);
            self.last_state.1.copy_from_slice(&state.pack);
        }
        self.day += 1;
    }

    fn flush_month(&mut self) -> Result<()> {
        let Some((y, m)) = self.month.take() else {
            return Ok(());
        };
        let n = self.m.valid_days.len();
        let mut data: Vec<Vec<f64>> = (0..MONTHLY_PRODUCT)
            .map(|k| masked(&self.m.values[k], &self.m.valid_days))
            .collect();
        data.push(self.m.valid_days.clone());
        let file = self
            .files
            .monthly
            .iter()
            .find(|(k, _)| *k == (y, m))
            .map(|(_, f)| f)
            .ok_or_else(|| Error::Request(format!("no monthly file for {y}-{m:02}")))?;
        file.write(
            &self.tile,
            self.row0,
            layers(&MONTHLY[..MONTHLY_PRODUCT], "valid_days", Some(data)),
        )?;
        let days = &self.m.valid_days;
        let mut p = MonthPart {
            month: (y, m),
            ..Default::default()
        };
        // p, eta, srf, dd, intercept (MonthPart's order) from MONTHLY's p, etasw, srf, dd, intercept.
        for (slot, k) in [5, 0, 2, 1, 6].into_iter().enumerate() {
            (p.sums[slot], p.counts[slot]) = part(&self.m.values[k], days);
        }
        (p.sums[5], p.counts[5]) = part(&self.last_state.0, days);
        (p.sums[6], p.counts[6]) = part(&self.last_state.1, days);
        self.parts.push(p);
        // The month into the year.
        for (k, name) in self.y.names.iter().enumerate() {
            let j = SUMMED
                .iter()
                .position(|s| s == name)
                .expect("every annual variable is summed monthly");
            for (y, m) in self.y.values[k].iter_mut().zip(&self.m.values[j]) {
                *y += m;
            }
        }
        for (y, m) in self.y.valid_days.iter_mut().zip(&self.m.valid_days) {
            *y += m;
        }
        self.m = Sums::new(&SUMMED, n);
        Ok(())
    }

    fn flush_year(&mut self) -> Result<()> {
        let Some(y) = self.year.take() else {
            return Ok(());
        };
        let n = self.y.valid_days.len();
        let mut data: Vec<Vec<f64>> = (0..ANNUAL.len())
            .map(|k| masked(&self.y.values[k], &self.y.valid_days))
            .collect();
        data.push(self.y.valid_days.clone());
        let file = self
            .files
            .annual
            .iter()
            .find(|(k, _)| *k == y)
            .map(|(_, f)| f)
            .ok_or_else(|| Error::Request(format!("no annual file for {y}")))?;
        file.write(
            &self.tile,
            self.row0,
            layers(ANNUAL, "valid_days", Some(data)),
        )?;
        self.y = Sums::new(ANNUAL, n);
        Ok(())
    }

    /// Flushes the last month and year, writes the tile's rows of the end state and of the run's
    /// total ETa, and checks the balance: the tile's monthly area sums and balance.
    pub fn finish(mut self, state: &State) -> Result<(Vec<MonthPart>, Balance)> {
        // The daily files' rows, written lazily, are on disk before the tile can be recorded.
        for f in self.files.daily.iter().take(self.day) {
            f.sync()?;
        }
        self.last_state.0.copy_from_slice(&state.swf);
        self.last_state.1.copy_from_slice(&state.pack);
        self.flush_month()?;
        self.flush_year()?;
        self.files.state.write(
            &self.tile,
            self.row0,
            vec![
                exact_layer("swf", state.swf.clone()),
                exact_layer("snwpk", state.pack.clone()),
            ],
        )?;
        let seen: Vec<f64> = self.seen.iter().map(|&s| s as u8 as f64).collect();
        self.files.eta_total.write(
            &self.tile,
            self.row0,
            vec![exact_layer("etasw", masked(&self.eta_total, &seen))],
        )?;
        let mut b = Balance::default();
        for i in 0..self.p.len() {
            let checkable = self.land[i] && self.seen[i] && state.valid[i];
            if !checkable {
                b.not_checked += 1;
                continue;
            }
            let storage = (state.swf[i] - self.sw0[i]) + (state.pack[i] - self.pack0[i]);
            let residual = self.p[i] - (self.out_terms[i] + storage);
            let tolerance = 1e-6 * (1.0 + self.p[i].abs() + self.sw0[i].abs());
            b.checked += 1;
            if residual.is_finite() {
                b.max_residual = b.max_residual.max(residual.abs());
            }
            if residual.is_nan() || residual.abs() > tolerance {
                b.failed += 1;
            }
        }
        Ok((self.parts, b))
    }
}
