//! Running the kernel over a whole period: the pixels are cut into tiles and each tile goes through
//! all its days while it is cache-resident (the day-at-a-time loop over a large area is bound by
//! streaming ~28 arrays through memory), tiles in parallel with rayon, sums kept per pixel.
use super::{pixel_day, Flux, Input, Mode, Options, Params, State, Statics};
use rayon::prelude::*;

/// Daily inputs for a period, time-major: value of pixel `i` on day `t` at `t * pixels + i`.
#[derive(Debug, Clone, Copy)]
pub struct Stack<'a, T = f64> {
    /// Pixels per day.
    pub pixels: usize,
    /// Days.
    pub days: usize,
    /// Precipitation.
    pub p: &'a [T],
    /// Reference ET.
    pub eto: &'a [T],
    /// NDVI.
    pub ndvi: &'a [T],
    /// Minimum temperature.
    pub tmin: &'a [T],
    /// Maximum temperature.
    pub tmax: &'a [T],
    /// Mean temperature.
    pub tavg: &'a [T],
}

/// Per-pixel sums over the period (the reference's annual set) and the count of valid days.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sums {
    /// Actual ET.
    pub etasw: Vec<f64>,
    /// Surface runoff.
    pub srf: Vec<f64>,
    /// Deep drainage.
    pub dd: Vec<f64>,
    /// Rain.
    pub rain: Vec<f64>,
    /// Interception.
    pub intercept: Vec<f64>,
    /// Snowfall.
    pub swe: Vec<f64>,
    /// Potential ET.
    pub etc: Vec<f64>,
    /// ET deficit.
    pub netet: Vec<f64>,
    /// Days with outputs (strict mode skips gap days).
    pub valid_days: Vec<u32>,
}

impl Sums {
    fn new(n: usize) -> Sums {
        let z = || vec![0.0; n];
        Sums {
            etasw: z(),
            srf: z(),
            dd: z(),
            rain: z(),
            intercept: z(),
            swe: z(),
            etc: z(),
            netet: z(),
            valid_days: vec![0; n],
        }
    }

    /// Adds pixel `i`'s day; NaN outputs (compat mode's NaN days) are skipped and not counted.
    #[inline(always)]
    fn add(&mut self, i: usize, f: &Flux) {
        if f.etasw.is_nan() {
            return;
        }
        self.etasw[i] += f.etasw;
        self.srf[i] += f.srf;
        self.dd[i] += f.dd;
        self.rain[i] += f.rain;
        self.intercept[i] += f.intercept;
        self.swe[i] += f.swe;
        self.etc[i] += f.etc;
        self.netet[i] += f.netet;
        self.valid_days[i] += 1;
    }
}

/// Runs all days of `stack` from `state`, `tile` pixels at a time in parallel. Returns the final state
/// and the sums; identical to calling [`super::step`] day after day over all pixels.
pub fn run<T: Input>(
    params: &Params,
    opts: &Options,
    statics: Statics<'_>,
    stack: Stack<'_, T>,
    state: State,
    tile: usize,
) -> (State, Sums) {
    let n = stack.pixels;
    let tile = tile.max(1);
    let starts: Vec<usize> = (0..n).step_by(tile).collect();
    let parts: Vec<(State, Sums)> = starts
        .par_iter()
        .map(|&a| {
            let b = (a + tile).min(n);
            let mut st = State {
                swf: state.swf[a..b].to_vec(),
                pack: state.pack[a..b].to_vec(),
                started: state.started[a..b].to_vec(),
                gap_days: state.gap_days[a..b].to_vec(),
                gap_run: state.gap_run[a..b].to_vec(),
                valid: state.valid[a..b].to_vec(),
            };
            let s = Statics {
                whc: &statics.whc[a..b],
                fc: &statics.fc[a..b],
                sat: &statics.sat[a..b],
                interception: &statics.interception[a..b],
                water: &statics.water[a..b],
            };
            let mut sums = Sums::new(b - a);
            let mut fast_days = vec![0.0; b - a];
            let strict = opts.mode == Mode::Strict;
            let statics_finite = [s.whc, s.fc, s.sat, s.interception, s.water]
                .iter()
                .all(|v| finite(v));
            // The fluxes go straight into the sums: no daily output arrays to write and read back.
            for t in 0..stack.days {
                let base = t * n + a;
                let d = [
                    stack.p, stack.eto, stack.ndvi, stack.tmin, stack.tmax, stack.tavg,
                ]
                .map(|v| &v[base..base + (b - a)]);
                // The common case — every pixel past its day 0 and (strict) valid with finite statics
                // and inputs — runs branch-free over the whole tile.
                let common = all_true(&st.started)
                    && (!strict
                        || (statics_finite
                            && all_true(&st.valid)
                            && d.iter().all(|v| finite_t(v))));
                if common {
                    if strict {
                        st.gap_run.fill(0);
                    }
                    super::fast::tile_day(
                        params,
                        opts,
                        s,
                        d,
                        &mut st.swf,
                        &mut st.pack,
                        &mut sums,
                        &mut fast_days,
                    );
                    continue;
                }
                for i in 0..b - a {
                    let k = base + i;
                    let inputs = (
                        stack.p[k].into(),
                        stack.eto[k].into(),
                        stack.ndvi[k].into(),
                        stack.tmin[k].into(),
                        stack.tmax[k].into(),
                        stack.tavg[k].into(),
                    );
                    let mut px = st.get(i);
                    if let Some(f) = pixel_day::<T>(params, opts, s.get(i), inputs, &mut px) {
                        sums.add(i, &f);
                    }
                    st.set(i, px);
                }
            }
            for (v, f) in sums.valid_days.iter_mut().zip(&fast_days) {
                *v += *f as u32;
            }
            (st, sums)
        })
        .collect();
    // Filled tile after tile: exact capacities, so nothing is copied twice.
    let v = || Vec::with_capacity(n);
    let mut state_out = State {
        swf: v(),
        pack: v(),
        started: Vec::with_capacity(n),
        gap_days: Vec::with_capacity(n),
        gap_run: Vec::with_capacity(n),
        valid: Vec::with_capacity(n),
    };
    let mut sums = Sums {
        etasw: v(),
        srf: v(),
        dd: v(),
        rain: v(),
        intercept: v(),
        swe: v(),
        etc: v(),
        netet: v(),
        valid_days: Vec::with_capacity(n),
    };
    for (st, s) in parts {
        state_out.swf.extend(st.swf);
        state_out.pack.extend(st.pack);
        state_out.started.extend(st.started);
        state_out.gap_days.extend(st.gap_days);
        state_out.gap_run.extend(st.gap_run);
        state_out.valid.extend(st.valid);
        sums.etasw.extend(s.etasw);
        sums.srf.extend(s.srf);
        sums.dd.extend(s.dd);
        sums.rain.extend(s.rain);
        sums.intercept.extend(s.intercept);
        sums.swe.extend(s.swe);
        sums.etc.extend(s.etc);
        sums.netet.extend(s.netet);
        sums.valid_days.extend(s.valid_days);
    }
    (state_out, sums)
}

/// Whether every value is finite: a fold without early exit, so that it vectorises.
fn finite(v: &[f64]) -> bool {
    v.iter().fold(true, |ok, x| ok & x.is_finite())
}

/// [`finite`] of inputs at either precision.
fn finite_t<T: Input>(v: &[T]) -> bool {
    v.iter().fold(true, |ok, &x| ok & x.into().is_finite())
}

fn all_true(v: &[bool]) -> bool {
    v.iter().fold(true, |ok, &x| ok & x)
}
