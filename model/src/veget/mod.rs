//! The VegET daily soil-water-balance kernel (spec: `veget.md`, 2021 reference equations) over a tile
//! of pixels: one call per day, state carried in [`State`], no allocation per pixel-day.
//!
//! Two missing-value modes: `Compat` reproduces the reference's NaN behaviour (compare-then-select, so a
//! comparison with NaN is false); `Strict` (default) holds state over gaps, counts them, and fixes the
//! reference's quirks (each fix a separate flag).
pub mod config;
mod drive;
mod outputs;
mod params;
mod run;
pub use config::RunConfig;
pub use drive::{model_grid, run as run_from_index, RunReport};
pub use outputs::{Balance, MonthRow};
pub use params::{MeltFormula, Mode, Options, Params};
pub use run::{run, Stack, Sums};

/// Static inputs per pixel.
#[derive(Debug, Clone, Copy)]
pub struct Statics<'a> {
    /// Plant-available water-holding capacity (mm).
    pub whc: &'a [f64],
    /// Field capacity (mm).
    pub fc: &'a [f64],
    /// Saturation (mm).
    pub sat: &'a [f64],
    /// Interception (% of precipitation).
    pub interception: &'a [f64],
    /// 1 = inland water.
    pub water: &'a [f64],
}

/// One day's dynamic inputs per pixel (after scale factors; nodata already NaN).
#[derive(Debug, Clone, Copy)]
pub struct Day<'a> {
    /// Precipitation (mm/day).
    pub p: &'a [f64],
    /// Grass reference ET (mm/day), before bias correction.
    pub eto: &'a [f64],
    /// NDVI.
    pub ndvi: &'a [f64],
    /// Minimum temperature (°C).
    pub tmin: &'a [f64],
    /// Maximum temperature (°C).
    pub tmax: &'a [f64],
    /// Mean temperature (°C).
    pub tavg: &'a [f64],
}

/// State carried between days.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// Final soil water of the previous day (mm).
    pub swf: Vec<f64>,
    /// Snowpack water equivalent (mm).
    pub pack: Vec<f64>,
    /// Whether the pixel has had its day 0 (initialisation) yet.
    pub started: Vec<bool>,
    /// Strict mode: days with missing dynamic inputs so far (an output).
    pub gap_days: Vec<u32>,
    /// Strict mode: current run of consecutive gap days.
    pub gap_run: Vec<u32>,
    /// Strict mode: false once a pixel is invalid for the rest of the run.
    pub valid: Vec<bool>,
}

impl State {
    /// A fresh state: every pixel starts (day 0) on its first day.
    pub fn new(n: usize) -> State {
        State {
            swf: vec![0.0; n],
            pack: vec![0.0; n],
            started: vec![false; n],
            gap_days: vec![0; n],
            gap_run: vec![0; n],
            valid: vec![true; n],
        }
    }

    /// A state resumed from saved soil water and snowpack (e.g. the end of a previous run).
    pub fn resume(swf: Vec<f64>, pack: Vec<f64>) -> State {
        let n = swf.len();
        State {
            started: vec![true; n],
            ..State::new(n)
        }
        .with(swf, pack)
    }

    fn with(mut self, swf: Vec<f64>, pack: Vec<f64>) -> State {
        self.swf = swf;
        self.pack = pack;
        self
    }
}

/// One day's outputs per pixel (the reference's variable names).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    /// Soil water before ET.
    pub swi: Vec<f64>,
    /// Final soil water.
    pub swf: Vec<f64>,
    /// Snowpack.
    pub snwpk: Vec<f64>,
    /// Today's snowfall.
    pub swe: Vec<f64>,
    /// Snow melt.
    pub snowmelt: Vec<f64>,
    /// Rain.
    pub rain: Vec<f64>,
    /// Interception.
    pub intercept: Vec<f64>,
    /// Surface runoff.
    pub srf: Vec<f64>,
    /// Deep drainage.
    pub dd: Vec<f64>,
    /// Actual ET.
    pub etasw: Vec<f64>,
    /// Land ETa before the water override.
    pub etasw5: Vec<f64>,
    /// Potential ET.
    pub etc: Vec<f64>,
    /// ET deficit.
    pub netet: Vec<f64>,
}

impl Outputs {
    /// Buffers for `n` pixels, reused day after day.
    pub fn new(n: usize) -> Outputs {
        let v = || vec![f64::NAN; n];
        Outputs {
            swi: v(),
            swf: v(),
            snwpk: v(),
            swe: v(),
            snowmelt: v(),
            rain: v(),
            intercept: v(),
            srf: v(),
            dd: v(),
            etasw: v(),
            etasw5: v(),
            etc: v(),
            netet: v(),
        }
    }

    fn set_nodata(&mut self, i: usize) {
        for v in [
            &mut self.swi,
            &mut self.swf,
            &mut self.snwpk,
            &mut self.swe,
            &mut self.snowmelt,
            &mut self.rain,
            &mut self.intercept,
            &mut self.srf,
            &mut self.dd,
            &mut self.etasw,
            &mut self.etasw5,
            &mut self.etc,
            &mut self.netet,
        ] {
            v[i] = f64::NAN;
        }
    }
}

/// The reference's `x if cond else y` selections: a comparison with NaN is false.
#[inline(always)]
fn floor0(x: f64) -> f64 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// Runs one day over all pixels, updating `state` and writing `out`.
pub fn step(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: Day<'_>,
    state: &mut State,
    out: &mut Outputs,
) {
    let n = state.swf.len();
    let strict = o.mode == Mode::Strict;
    let water_var = p.water_factor * p.bias_corr * p.alfa_factor;
    for i in 0..n {
        let (whc, fc, sat, icpt, water) =
            (s.whc[i], s.fc[i], s.sat[i], s.interception[i], s.water[i]);
        let (pr, eto, ndvi, tmin, tmax, tavg) =
            (d.p[i], d.eto[i], d.ndvi[i], d.tmin[i], d.tmax[i], d.tavg[i]);
        if strict {
            let statics_ok = [whc, fc, sat, icpt, water].iter().all(|v| v.is_finite());
            if !statics_ok || !state.valid[i] {
                state.valid[i] = false;
                out.set_nodata(i);
                continue;
            }
            if ![pr, eto, ndvi, tmin, tmax, tavg]
                .iter()
                .all(|v| v.is_finite())
            {
                // Hold the state, count the gap, give up on the pixel after too many in a row.
                state.gap_days[i] += 1;
                state.gap_run[i] += 1;
                if state.gap_run[i] > o.max_gap_days {
                    state.valid[i] = false;
                }
                out.set_nodata(i);
                continue;
            }
            state.gap_run[i] = 0;
        }
        // 3.1 interception
        let p_eff = pr * (1.0 - icpt / 100.0);
        out.intercept[i] = pr * icpt / 100.0;
        // 3.2 rain fraction
        let mut f_rain = if tavg > p.rf_low_thresh_temp && tavg < p.rf_high_thresh_temp {
            p.rf_value * tavg
        } else if tavg >= p.rf_high_thresh_temp {
            1.0
        } else {
            0.0
        };
        if strict && o.clamp_rain_fraction && f_rain > 1.0 {
            f_rain = 1.0;
        }
        let rain = f_rain * p_eff;
        out.rain[i] = rain;
        let day0 = !state.started[i];
        let (snow, melt, pack, swi) = if day0 {
            // 3.10: no snow partition on day 0; all effective precipitation enters the soil.
            let swi0 = 0.5 * whc + p_eff;
            (0.0, 0.0, 0.0, if swi0 < 0.0 { f64::NAN } else { swi0 })
        } else {
            let snow = (1.0 - f_rain) * p_eff;
            // 3.3 melt
            let mut m_pot = match o.melt_formula {
                MeltFormula::V2021 => {
                    let tmin_c = if tmin < 0.0 { 0.0 } else { tmin };
                    if tavg > p.rf_low_thresh_temp {
                        p.melt_factor * tmax * (tmax - tmin_c)
                    } else {
                        0.0
                    }
                }
                MeltFormula::V2020Typo => p.melt_factor * (tmax * tmax - (tmax - tmin)),
                MeltFormula::V2014 => p.melt_factor * (tmax * tmax - tmax * tmin),
            };
            if strict && o.clamp_melt && m_pot < 0.0 {
                m_pot = 0.0;
            }
            let available = snow + state.pack[i];
            let melt = if m_pot <= available { m_pot } else { available };
            let pack = floor0(state.pack[i] + snow - melt);
            (snow, melt, pack, state.swf[i] + rain + melt)
        };
        out.swe[i] = snow;
        out.snowmelt[i] = melt;
        out.snwpk[i] = pack;
        out.swi[i] = swi;
        // 3.6 runoff
        let r = {
            let x = swi - whc;
            if x >= 0.0 {
                x
            } else {
                0.0
            }
        };
        let dmax = sat - fc;
        let srf = if r <= dmax {
            p.rf_coeff * r
        } else {
            (r - dmax) + p.rf_coeff * dmax
        };
        out.srf[i] = srf;
        out.dd[i] = r - srf;
        // 3.7 ET
        let eto_bc = p.bias_corr * eto;
        let kcp = if ndvi > 0.4 {
            p.k_factor * ndvi + p.ndvi_factor
        } else {
            p.k_factor * ndvi
        };
        let e1 = kcp * eto_bc;
        let ks = if swi > 0.5 * whc {
            1.0
        } else {
            swi / (0.5 * whc)
        };
        let e3 = ks * e1;
        let e4 = if e3 > swi { swi } else { e3 };
        let e5 = if e4 > whc { whc } else { e4 };
        let water_rule = o.water_rule && (water == 1.0 || ndvi < 0.0);
        let eta = if water_rule { water_var * eto } else { e5 };
        out.etasw5[i] = e5;
        out.etasw[i] = eta;
        let etc = (p.k_factor * ndvi + p.ndvi_factor) * eto_bc;
        out.etc[i] = etc;
        out.netet[i] = floor0(etc - eta);
        // 3.9 final soil water
        let mut swf = if swi > whc {
            whc - eta
        } else {
            floor0(swi - eta)
        };
        if strict && o.clamp_water_swf && water_rule {
            swf = swf.clamp(0.0, whc);
        }
        out.swf[i] = swf;
        state.swf[i] = swf;
        state.pack[i] = pack;
        state.started[i] = true;
    }
}

#[cfg(test)]
mod tests;
