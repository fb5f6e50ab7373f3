//! One day over a tile's pixels, a chunk at a time: a chunk in the common case — every pixel past
//! its day 0 and (strict) valid with finite statics and inputs — runs through the branch-free loops
//! of `fast`; any other chunk (a few invalid pixels, e.g. at the inputs' edge) goes pixel by pixel.
//! Either into every daily output ([`step`]), or, when a run writes no daily files but ETa's,
//! straight into the tile's sums ([`step_sums`]: the other 12 daily arrays are neither written nor
//! read back).
use super::accumulate::TileAcc;
use super::{fast, pixel_day, Day, Input, Mode, Options, Outputs, Params, State, Statics};
use std::ops::Range;

const CHUNK: usize = 2048;

/// Whether pixels `at` are all in the common case.
fn common<T: Input>(
    o: &Options,
    s: &Statics<'_>,
    d: &Day<'_, T>,
    state: &State,
    at: &Range<usize>,
) -> bool {
    // Folds without an early exit, so that each check is one vectorised pass over the chunk.
    let finite = |v: &[f64]| v.iter().fold(true, |ok, x| ok & x.is_finite());
    let finite_t = |v: &[T]| v.iter().fold(true, |ok, x| ok & (*x).into().is_finite());
    let all = |v: &[bool]| v.iter().fold(true, |ok, &x| ok & x);
    let inputs = [d.p, d.eto, d.ndvi, d.tmin, d.tmax, d.tavg];
    let statics = [s.whc, s.fc, s.sat, s.interception, s.water];
    all(&state.started[at.clone()])
        && (o.mode != Mode::Strict
            || (all(&state.valid[at.clone()])
                && statics.iter().all(|v| finite(&v[at.clone()]))
                && inputs.iter().all(|v| finite_t(&v[at.clone()]))))
}

/// Pixels `at` one by one (the general case), into `out`.
fn pixels<T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: &Day<'_, T>,
    state: &mut State,
    out: &mut Outputs,
    at: Range<usize>,
) {
    for i in at {
        let inputs = (
            d.p[i].into(),
            d.eto[i].into(),
            d.ndvi[i].into(),
            d.tmin[i].into(),
            d.tmax[i].into(),
            d.tavg[i].into(),
        );
        let mut st = state.get(i);
        match pixel_day::<T>(p, o, s.get(i), inputs, &mut st) {
            Some(f) => out.set(i, &f),
            None => out.set_nodata(i),
        }
        state.set(i, st);
    }
}

/// Calls `run(state, chunk, common)` for each chunk of pixels, `common` telling whether the chunk is
/// in the common case (whose strict-mode gap runs are reset first).
fn by_chunk<T: Input>(
    o: &Options,
    s: &Statics<'_>,
    d: &Day<'_, T>,
    state: &mut State,
    mut run: impl FnMut(&mut State, Range<usize>, bool),
) {
    let n = state.swf.len();
    for a in (0..n).step_by(CHUNK) {
        let at = a..(a + CHUNK).min(n);
        let common = common(o, s, d, state, &at);
        if common && o.mode == Mode::Strict {
            state.gap_run[at.clone()].fill(0);
        }
        run(state, at, common);
    }
}

/// Runs one day over all pixels, updating `state` and writing `out`.
pub fn step<T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: Day<'_, T>,
    state: &mut State,
    out: &mut Outputs,
) {
    let inputs = [d.p, d.eto, d.ndvi, d.tmin, d.tmax, d.tavg];
    by_chunk(o, &s, &d, state, |state, at, common| {
        if common {
            let swf_pack = (&mut state.swf[..], &mut state.pack[..]);
            fast::step_day(p, o, s, inputs, swf_pack, out, at);
        } else {
            pixels(p, o, s, &d, state, out, at);
        }
    });
}

/// Runs one day over all pixels, updating `state` and adding the day to `acc`'s sums (what [`step`]
/// followed by `acc.add` over every pixel gives, bit for bit); `out` holds the day's ETa of every
/// pixel, its other outputs only for the chunks that went pixel by pixel.
pub(crate) fn step_sums<T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: Day<'_, T>,
    state: &mut State,
    out: &mut Outputs,
    acc: &mut TileAcc<'_>,
) {
    let inputs = [d.p, d.eto, d.ndvi, d.tmin, d.tmax, d.tavg];
    by_chunk(o, &s, &d, state, |state, at, common| {
        if common {
            let swf_pack = (&mut state.swf[..], &mut state.pack[..]);
            fast::sum_day(p, o, s, inputs, swf_pack, acc.targets(&mut out.etasw), at);
        } else {
            pixels(p, o, s, &d, state, out, at.clone());
            acc.add(&d, s.water, out, at);
        }
    });
}
