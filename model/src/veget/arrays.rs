//! VegET over inputs already aligned in memory (the Python package's `etlake.veget`): the input
//! conditioning an index-driven run applies (negative soil grids missing, Tavg from Tmin and Tmax
//! when not given), then the kernel day after day with every day's outputs kept. One definition of
//! each, shared with [`super::drive`].
use super::{step, Day, Outputs, Params, State, Statics};
use super::{Options, Stack};

/// Spec §3.0: negative `WHC`, `FC` or `SAT` values are missing.
pub fn mask_negative_soil(v: &mut [f64]) {
    v.iter_mut()
        .filter(|x| **x < 0.0)
        .for_each(|x| *x = f64::NAN);
}

/// Mean temperature where no input gives it: (Tmin + Tmax) / 2.
pub fn mean_temperature(tmin: &[f64], tmax: &[f64]) -> Vec<f64> {
    tmin.iter().zip(tmax).map(|(a, b)| (a + b) / 2.0).collect()
}

/// The daily output variables, in the order [`Daily::values`] holds them (the reference's names,
/// as the `veget_daily` files carry them).
pub const DAILY_NAMES: [&str; 13] = [
    "etasw",
    "etasw5",
    "etc",
    "netet",
    "swi",
    "swf",
    "snwpk",
    "swe",
    "snowmelt",
    "rain",
    "intercept",
    "srf",
    "dd",
];

/// Every day's outputs of a run, time-major like [`Stack`]: pixel `i` of day `t` at
/// `t * pixels + i`.
#[derive(Debug, Clone, PartialEq)]
pub struct Daily {
    /// One array per name of [`DAILY_NAMES`].
    pub values: Vec<Vec<f64>>,
    /// Strict mode: days with missing dynamic inputs so far, per pixel and day (as the daily files'
    /// `gap_days`).
    pub gap_days: Vec<u32>,
}

/// Runs every day of `stack` from `state` (updated to the end of the last day) and returns every
/// day's outputs. Negative soil grids are masked first, as an index-driven run masks them; `stack`
/// must hold Tavg already (see [`mean_temperature`]).
pub fn run_daily(
    params: &Params,
    opts: &Options,
    statics: Statics<'_>,
    stack: Stack<'_>,
    state: &mut State,
) -> Daily {
    let n = stack.pixels;
    let soil = |v: &[f64]| {
        let mut v = v.to_vec();
        mask_negative_soil(&mut v);
        v
    };
    let (whc, fc, sat) = (soil(statics.whc), soil(statics.fc), soil(statics.sat));
    let st = Statics {
        whc: &whc,
        fc: &fc,
        sat: &sat,
        ..statics
    };
    let mut daily = Daily {
        values: vec![Vec::with_capacity(n * stack.days); DAILY_NAMES.len()],
        gap_days: Vec::with_capacity(n * stack.days),
    };
    let mut out = Outputs::new(n);
    for t in 0..stack.days {
        let r = t * n..(t + 1) * n;
        let d = Day {
            p: &stack.p[r.clone()],
            eto: &stack.eto[r.clone()],
            ndvi: &stack.ndvi[r.clone()],
            tmin: &stack.tmin[r.clone()],
            tmax: &stack.tmax[r.clone()],
            tavg: &stack.tavg[r],
        };
        step(params, opts, st, d, state, &mut out);
        for (k, name) in DAILY_NAMES.iter().enumerate() {
            daily.values[k]
                .extend_from_slice(out.by_name(name).expect("DAILY_NAMES are output names"));
        }
        daily.gap_days.extend_from_slice(&state.gap_days);
    }
    daily
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spec §8 A, days 0–1, one pixel; a second pixel with a negative WHC is missing (strict: no
    /// output, invalid).
    #[test]
    fn daily_outputs_follow_the_worked_example() {
        let statics = Statics {
            whc: &[100.0, -1.0],
            fc: &[150.0, 150.0],
            sat: &[200.0, 200.0],
            interception: &[10.0, 10.0],
            water: &[0.0, 0.0],
        };
        let (tmin, tmax) = ([8.0, 8.0, 10.0, 10.0], [22.0, 22.0, 26.0, 26.0]);
        let tavg = mean_temperature(&tmin, &tmax);
        assert_eq!(tavg, [15.0, 15.0, 18.0, 18.0]);
        let stack = Stack {
            pixels: 2,
            days: 2,
            p: &[10.0, 10.0, 0.0, 0.0],
            eto: &[5.0, 5.0, 6.0, 6.0],
            ndvi: &[0.5; 4],
            tmin: &tmin,
            tmax: &tmax,
            tavg: &tavg,
        };
        let mut state = State::new(2);
        let d = run_daily(
            &Params::default(),
            &Options::default(),
            statics,
            stack,
            &mut state,
        );
        let at = |name: &str, t: usize, i: usize| {
            let k = DAILY_NAMES.iter().position(|n| *n == name).unwrap();
            d.values[k][t * 2 + i]
        };
        assert!((at("swi", 0, 0) - 59.0).abs() < 1e-9);
        assert!((at("etasw", 0, 0) - 3.50625).abs() < 1e-9);
        assert!((at("swf", 1, 0) - 51.28625).abs() < 1e-9);
        assert!((state.swf[0] - 51.28625).abs() < 1e-9);
        assert!(at("etasw", 0, 1).is_nan() && at("swf", 1, 1).is_nan());
        assert_eq!(state.valid, [true, false]);
        assert_eq!(d.gap_days, [0, 0, 0, 0]);
    }
}
