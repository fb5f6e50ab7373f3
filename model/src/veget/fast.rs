//! The kernel's common case over a tile-day — every pixel started and valid, inputs finite — as one
//! branch-free loop of the shared flux equations, compiled for the baseline CPU and for AVX2, with the
//! two preset option sets (strict defaults, compat) as constants so that the loop vectorises.
use super::run::Sums;
use super::{flux, Options, Params, Statics};

/// Runs one day over a tile whose pixels are all in the common case, adding the fluxes to `sums` and
/// 1 to `days` (a NaN ETa, e.g. from a zero WHC, is skipped and not counted, as in the general loop).
/// Days are counted in f64 beside the sums: a u32 counter in the loop keeps it from vectorising.
/// The slices stay separate arguments down to the loop: bundled in a struct (or an array of slices)
/// LLVM no longer vectorises it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn tile_day(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[f64]; 6],
    swf: &mut [f64],
    pack: &mut [f64],
    sums: &mut Sums,
    days: &mut [f64],
) {
    if *o == Options::default() {
        dispatch::<Strict>(p, o, s, d, swf, pack, sums, days)
    } else if *o == Options::compat() {
        dispatch::<Compat>(p, o, s, d, swf, pack, sums, days)
    } else {
        dispatch::<AsGiven>(p, o, s, d, swf, pack, sums, days)
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
fn dispatch<K: Preset>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[f64]; 6],
    swf: &mut [f64],
    pack: &mut [f64],
    sums: &mut Sums,
    days: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { body_avx2::<K>(p, o, s, d, swf, pack, sums, days) };
        return;
    }
    body::<K>(p, o, s, d, swf, pack, sums, days);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn body_avx2<K: Preset>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[f64]; 6],
    swf: &mut [f64],
    pack: &mut [f64],
    sums: &mut Sums,
    days: &mut [f64],
) {
    body::<K>(p, o, s, d, swf, pack, sums, days);
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn body<K: Preset>(
    p: &Params,
    o: &Options,
    s: Statics<'_>,
    d: [&[f64]; 6],
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
        let f = flux(
            p,
            o,
            (whc[i], fc[i], sat[i], icpt[i], water[i]),
            (pr[i], eto[i], ndvi[i], tmin[i], tmax[i], tavg[i]),
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
