//! The kernel's common case over a tile-day — every pixel started and valid, inputs finite — as one
//! branch-free loop of the shared flux equations, compiled for the baseline CPU and for AVX2, with the
//! two preset option sets (strict defaults, compat) as constants so that the loop vectorises: into
//! the monthly sums (the in-memory run), or into every daily output (`step`, the tiled run's path).
use super::run::Sums;
use super::{flux, Input, Options, Outputs, Params, Statics};

/// Runs one day over a tile whose pixels are all in the common case, adding the fluxes to `sums` and
/// 1 to `days` (a NaN ETa, e.g. from a zero WHC, is skipped and not counted, as in the general loop).
/// Days are counted in f64 beside the sums: a u32 counter in the loop keeps it from vectorising.
/// The slices stay separate arguments down to the loop: bundled in a struct (or an array of slices)
/// LLVM no longer vectorises it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tile_day<T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    swf: &mut [f64],
    pack: &mut [f64],
    sums: &mut Sums,
    days: &mut [f64],
) {
    if *o == Options::default() {
        dispatch::<Strict, T>(p, o, s, d, swf, pack, sums, days)
    } else if *o == Options::compat() {
        dispatch::<Compat, T>(p, o, s, d, swf, pack, sums, days)
    } else {
        dispatch::<AsGiven, T>(p, o, s, d, swf, pack, sums, days)
    }
}

/// Where the loop's options come from: a preset known at compile time, or the caller's.
trait Preset {
    fn options(given: &Options) -> Options;
}
struct Strict;
struct Compat;
struct AsGiven;
impl Preset for Strict {
    #[inline(always)]
    fn options(_: &Options) -> Options {
        Options::default()
    }
}
impl Preset for Compat {
    #[inline(always)]
    fn options(_: &Options) -> Options {
        Options::compat()
    }
}
impl Preset for AsGiven {
    #[inline(always)]
    fn options(given: &Options) -> Options {
        *given
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn dispatch<K: Preset, T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    swf: &mut [f64],
    pack: &mut [f64],
    sums: &mut Sums,
    days: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { body_avx2::<K, T>(p, o, s, d, swf, pack, sums, days) };
        return;
    }
    body::<K, T>(p, o, s, d, swf, pack, sums, days);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn body_avx2<K: Preset, T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    swf: &mut [f64],
    pack: &mut [f64],
    sums: &mut Sums,
    days: &mut [f64],
) {
    body::<K, T>(p, o, s, d, swf, pack, sums, days);
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn body<K: Preset, T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    swf: &mut [f64],
    pack: &mut [f64],
    sums: &mut Sums,
    days: &mut [f64],
) {
    let n = swf.len();
    // Equal lengths up front, so the loop below carries no bounds checks.
    let (whc, fc, sat, icpt, water) = (
        &s.whc[..n],
        &s.fc[..n],
        &s.sat[..n],
        &s.interception[..n],
        &s.water[..n],
    );
    let (pr, eto, ndvi) = (&d[0][..n], &d[1][..n], &d[2][..n]);
    let (tmin, tmax, tavg) = (&d[3][..n], &d[4][..n], &d[5][..n]);
    let pack = &mut pack[..n];
    let (e, sr, dd, rn, ic) = (
        &mut sums.etasw[..n],
        &mut sums.srf[..n],
        &mut sums.dd[..n],
        &mut sums.rain[..n],
        &mut sums.intercept[..n],
    );
    let (sw, ec, ne, vd) = (
        &mut sums.swe[..n],
        &mut sums.etc[..n],
        &mut sums.netet[..n],
        &mut days[..n],
    );
    let o = &K::options(o);
    for i in 0..n {
        let f = flux::<T>(
            p,
            o,
            (whc[i], fc[i], sat[i], icpt[i], water[i]),
            (
                pr[i].into(),
                eto[i].into(),
                ndvi[i].into(),
                tmin[i].into(),
                tmax[i].into(),
                tavg[i].into(),
            ),
            (swf[i], pack[i], false),
        );
        swf[i] = f.swf;
        pack[i] = f.snwpk;
        // x where ETa is a number, else +0: a bit mask, so every sum is an unconditional add (a
        // conditional one compiles to slow masked loads and stores).
        let mask = if f.etasw.is_nan() { 0 } else { u64::MAX };
        let add = |x: f64| f64::from_bits(x.to_bits() & mask);
        e[i] += add(f.etasw);
        sr[i] += add(f.srf);
        dd[i] += add(f.dd);
        rn[i] += add(f.rain);
        ic[i] += add(f.intercept);
        sw[i] += add(f.swe);
        ec[i] += add(f.etc);
        ne[i] += add(f.netet);
        vd[i] += add(1.0);
    }
}

/// The daily-outputs path's common case: one day over a tile whose pixels are all past their day 0
/// and (strict mode) valid with finite statics and inputs, writing every output of the day as
/// [`super::step`] does pixel by pixel (the same `flux`, so the same bits), in one branch-free loop,
/// over the pixels `at` of every slice.
pub(crate) fn step_day<T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    state: (&mut [f64], &mut [f64]),
    out: &mut Outputs,
    at: std::ops::Range<usize>,
) {
    if *o == Options::default() {
        step_dispatch::<Strict, T>(p, o, s, d, state, out, at)
    } else if *o == Options::compat() {
        step_dispatch::<Compat, T>(p, o, s, d, state, out, at)
    } else {
        step_dispatch::<AsGiven, T>(p, o, s, d, state, out, at)
    }
}

#[inline(always)]
fn step_dispatch<K: Preset, T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    state: (&mut [f64], &mut [f64]),
    out: &mut Outputs,
    at: std::ops::Range<usize>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { step_avx2::<K, T>(p, o, s, d, state, out, at) };
        return;
    }
    step_body::<K, T>(p, o, s, d, state, out, at);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn step_avx2<K: Preset, T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    state: (&mut [f64], &mut [f64]),
    out: &mut Outputs,
    at: std::ops::Range<usize>,
) {
    step_body::<K, T>(p, o, s, d, state, out, at);
}

#[inline(always)]
fn step_body<K: Preset, T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    (swf, pack): (&mut [f64], &mut [f64]),
    out: &mut Outputs,
    at: std::ops::Range<usize>,
) {
    let (a, n) = (at.start, at.len());
    let swf = &mut swf[at.clone()];
    let (whc, fc, sat, icpt, water) = (
        &s.whc[at.clone()],
        &s.fc[at.clone()],
        &s.sat[at.clone()],
        &s.interception[at.clone()],
        &s.water[at.clone()],
    );
    let (pr, eto, ndvi) = (&d[0][at.clone()], &d[1][at.clone()], &d[2][at.clone()]);
    let (tmin, tmax, tavg) = (&d[3][at.clone()], &d[4][at.clone()], &d[5][at.clone()]);
    let pack = &mut pack[at.clone()];
    // Every output as its own slice of the same length: the loop carries no bounds checks.
    let Outputs {
        swi,
        swf: o_swf,
        snwpk,
        swe,
        snowmelt,
        rain,
        intercept,
        srf,
        dd,
        etasw,
        etasw5,
        etc,
        netet,
    } = out;
    let (swi, o_swf, snwpk, swe, snowmelt) = (
        &mut swi[a..a + n],
        &mut o_swf[a..a + n],
        &mut snwpk[a..a + n],
        &mut swe[a..a + n],
        &mut snowmelt[a..a + n],
    );
    let (rain, intercept, srf, dd) = (
        &mut rain[a..a + n],
        &mut intercept[a..a + n],
        &mut srf[a..a + n],
        &mut dd[a..a + n],
    );
    let (etasw, etasw5, etc, netet) = (
        &mut etasw[a..a + n],
        &mut etasw5[a..a + n],
        &mut etc[a..a + n],
        &mut netet[a..a + n],
    );
    let (whc, fc, sat, icpt, water) = (&whc[..n], &fc[..n], &sat[..n], &icpt[..n], &water[..n]);
    let (pr, eto, ndvi) = (&pr[..n], &eto[..n], &ndvi[..n]);
    let (tmin, tmax, tavg) = (&tmin[..n], &tmax[..n], &tavg[..n]);
    let (swf, pack) = (&mut swf[..n], &mut pack[..n]);
    let o = &K::options(o);
    for i in 0..n {
        let f = flux::<T>(
            p,
            o,
            (whc[i], fc[i], sat[i], icpt[i], water[i]),
            (
                pr[i].into(),
                eto[i].into(),
                ndvi[i].into(),
                tmin[i].into(),
                tmax[i].into(),
                tavg[i].into(),
            ),
            (swf[i], pack[i], false),
        );
        swf[i] = f.swf;
        pack[i] = f.snwpk;
        swi[i] = f.swi;
        o_swf[i] = f.swf;
        snwpk[i] = f.snwpk;
        swe[i] = f.swe;
        snowmelt[i] = f.snowmelt;
        rain[i] = f.rain;
        intercept[i] = f.intercept;
        srf[i] = f.srf;
        dd[i] = f.dd;
        etasw[i] = f.etasw;
        etasw5[i] = f.etasw5;
        etc[i] = f.etc;
        netet[i] = f.netet;
    }
}

/// Where [`sum_day`] adds a day's fluxes: a tile's monthly sums of etasw, dd, srf, etc, netet, p,
/// intercept, rain and swe, its valid days, and the water-balance terms (precipitation, outgoing
/// terms, total ETa, whether each pixel was ever valid and stayed land); and where it puts the day's
/// ETa (for a daily ETa file).
pub(crate) struct Targets<'a> {
    pub eta: &'a mut [f64],
    pub sums: [&'a mut [f64]; 9],
    pub days: &'a mut [f64],
    pub seen: &'a mut [bool],
    pub p: &'a mut [f64],
    pub out_terms: &'a mut [f64],
    pub eta_total: &'a mut [f64],
    pub land: &'a mut [bool],
}

/// The common case of a tile-day without daily outputs: the fluxes of pixels `at` added straight
/// into `t` (what [`step_day`] followed by the tile's sums computes, the same operations in the same
/// order, so the same bits), without writing the 13 daily arrays and reading them back.
pub(crate) fn sum_day<T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    state: (&mut [f64], &mut [f64]),
    t: Targets<'_>,
    at: std::ops::Range<usize>,
) {
    if *o == Options::default() {
        sum_dispatch::<Strict, T>(p, o, s, d, state, t, at)
    } else if *o == Options::compat() {
        sum_dispatch::<Compat, T>(p, o, s, d, state, t, at)
    } else {
        sum_dispatch::<AsGiven, T>(p, o, s, d, state, t, at)
    }
}

#[inline(always)]
fn sum_dispatch<K: Preset, T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    state: (&mut [f64], &mut [f64]),
    t: Targets<'_>,
    at: std::ops::Range<usize>,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { sum_avx2::<K, T>(p, o, s, d, state, t, at) };
        return;
    }
    sum_body::<K, T>(p, o, s, d, state, t, at);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_avx2<K: Preset, T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    state: (&mut [f64], &mut [f64]),
    t: Targets<'_>,
    at: std::ops::Range<usize>,
) {
    sum_body::<K, T>(p, o, s, d, state, t, at);
}

#[inline(always)]
fn sum_body<K: Preset, T: Input>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[T]; 6],
    (swf, pack): (&mut [f64], &mut [f64]),
    t: Targets<'_>,
    at: std::ops::Range<usize>,
) {
    let n = at.len();
    // Every slice cut to the range and to one length up front: the loop carries no bounds checks.
    let (whc, fc, sat) = (&s.whc[at.clone()], &s.fc[at.clone()], &s.sat[at.clone()]);
    let (icpt, water) = (&s.interception[at.clone()], &s.water[at.clone()]);
    let (whc, fc, sat, icpt, water) = (&whc[..n], &fc[..n], &sat[..n], &icpt[..n], &water[..n]);
    let (pr, eto, ndvi) = (&d[0][at.clone()], &d[1][at.clone()], &d[2][at.clone()]);
    let (tmin, tmax, tavg) = (&d[3][at.clone()], &d[4][at.clone()], &d[5][at.clone()]);
    let (pr, eto, ndvi) = (&pr[..n], &eto[..n], &ndvi[..n]);
    let (tmin, tmax, tavg) = (&tmin[..n], &tmax[..n], &tavg[..n]);
    let (swf, pack) = (&mut swf[at.clone()], &mut pack[at.clone()]);
    let (swf, pack) = (&mut swf[..n], &mut pack[..n]);
    let [e, dd, sr, ec, ne, ps, ic, rn, sw] = t.sums;
    let (e, dd, sr, ec, ne) = (
        &mut e[at.clone()][..n],
        &mut dd[at.clone()][..n],
        &mut sr[at.clone()][..n],
        &mut ec[at.clone()][..n],
        &mut ne[at.clone()][..n],
    );
    let (ps, ic, rn, sw) = (
        &mut ps[at.clone()][..n],
        &mut ic[at.clone()][..n],
        &mut rn[at.clone()][..n],
        &mut sw[at.clone()][..n],
    );
    let eta = &mut t.eta[at.clone()][..n];
    let (vd, seen, bp, out, et, land) = (
        &mut t.days[at.clone()][..n],
        &mut t.seen[at.clone()][..n],
        &mut t.p[at.clone()][..n],
        &mut t.out_terms[at.clone()][..n],
        &mut t.eta_total[at.clone()][..n],
        &mut t.land[at][..n],
    );
    let o = &K::options(o);
    for i in 0..n {
        let precip: f64 = pr[i].into();
        let leaf: f64 = ndvi[i].into();
        let f = flux::<T>(
            p,
            o,
            (whc[i], fc[i], sat[i], icpt[i], water[i]),
            (
                precip,
                eto[i].into(),
                leaf,
                tmin[i].into(),
                tmax[i].into(),
                tavg[i].into(),
            ),
            (swf[i], pack[i], false),
        );
        swf[i] = f.swf;
        pack[i] = f.snwpk;
        eta[i] = f.etasw;
        // x where ETa is a number, else +0 (a bit mask: every sum an unconditional add).
        let ok = f.etasw.is_finite();
        let mask = if ok { u64::MAX } else { 0 };
        let add = |x: f64| f64::from_bits(x.to_bits() & mask);
        e[i] += add(f.etasw);
        dd[i] += add(f.dd);
        sr[i] += add(f.srf);
        ec[i] += add(f.etc);
        ne[i] += add(f.netet);
        ps[i] += add(precip);
        ic[i] += add(f.intercept);
        rn[i] += add(f.rain);
        sw[i] += add(f.swe);
        vd[i] += add(1.0);
        seen[i] |= ok;
        bp[i] += add(precip);
        out[i] += add(f.intercept + f.etasw + f.srf + f.dd);
        et[i] += add(f.etasw);
        land[i] &= !(ok && (water[i] != 0.0 || leaf < 0.0));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{pixel_day, step, Day, Options, Outputs, Params, State, Statics};

    /// Values spread over [lo, hi) by a multiplicative hash of the pixel and `k`.
    fn series(n: usize, k: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n)
            .map(|i| lo + (hi - lo) * (((i + k) * 2654435761 % 1000) as f64 / 1000.0))
            .collect()
    }

    fn bits(o: &Outputs) -> Vec<Vec<u64>> {
        [
            &o.swi,
            &o.swf,
            &o.snwpk,
            &o.swe,
            &o.snowmelt,
            &o.rain,
            &o.intercept,
            &o.srf,
            &o.dd,
            &o.etasw,
            &o.etasw5,
            &o.etc,
            &o.netet,
        ]
        .iter()
        .map(|v| v.iter().map(|x| x.to_bits()).collect())
        .collect()
    }

    #[test]
    fn the_vectorised_step_writes_the_bits_of_the_pixel_loop() {
        // Three chunks of `step`; pixel 5 misses its precipitation some days (strict: a gap), so
        // its chunk goes pixel by pixel on those days while the others run branch-free.
        let n = 5003;
        let (whc, icpt) = (series(n, 0, 30.0, 200.0), vec![10.0; n]);
        let fc: Vec<f64> = whc.iter().map(|w| 1.4 * w + 10.0).collect();
        let sat: Vec<f64> = whc.iter().map(|w| 1.9 * w + 40.0).collect();
        let water: Vec<f64> = (0..n).map(|i| (i % 97 == 0) as u8 as f64).collect();
        let s = Statics {
            whc: &whc,
            fc: &fc,
            sat: &sat,
            interception: &icpt,
            water: &water,
        };
        let p = Params::default();
        for o in [Options::default(), Options::compat()] {
            let (mut fast, mut slow) = (State::new(n), State::new(n));
            let (mut fo, mut so) = (Outputs::new(n), Outputs::new(n));
            for t in 0..40 {
                let mut pr = series(n, t * 7 + 1, 0.0, 20.0);
                if t % 5 == 3 {
                    pr[5] = f64::NAN;
                }
                let eto = series(n, t * 11 + 2, 0.5, 8.0);
                // Some NDVI below zero: the water override's branch.
                let ndvi = series(n, t * 13 + 3, -0.1, 0.9);
                let tmin = series(n, t * 17 + 4, -15.0, 15.0);
                let tmax: Vec<f64> = tmin.iter().map(|x| x + 10.0).collect();
                let tavg: Vec<f64> = tmin.iter().map(|x| x + 5.0).collect();
                let d = Day {
                    p: &pr,
                    eto: &eto,
                    ndvi: &ndvi,
                    tmin: &tmin,
                    tmax: &tmax,
                    tavg: &tavg,
                };
                step(&p, &o, s, d, &mut fast, &mut fo);
                for i in 0..n {
                    let mut st = slow.get(i);
                    let inputs = (pr[i], eto[i], ndvi[i], tmin[i], tmax[i], tavg[i]);
                    match pixel_day::<f64>(&p, &o, s.get(i), inputs, &mut st) {
                        Some(f) => so.set(i, &f),
                        None => so.set_nodata(i),
                    }
                    slow.set(i, st);
                }
                assert_eq!(bits(&fo), bits(&so), "day {t}, {o:?}");
                let numbers = fo.etasw.iter().filter(|x| x.is_finite()).count();
                assert!(numbers >= n - 1, "day {t}: {numbers} of {n}");
            }
            assert_eq!(fast.started, slow.started);
            assert_eq!(fast.gap_run, slow.gap_run);
            let b = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(b(&fast.swf), b(&slow.swf));
            assert_eq!(b(&fast.pack), b(&slow.pack));
            assert!(
                fast.pack.iter().any(|&x| x > 0.0),
                "no snow: the melt branch untested"
            );
        }
    }
}
