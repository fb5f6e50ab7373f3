//! Golden tests: the spec's worked examples (§8), invariants (§9), restart and tiling equality, and an
//! independent scalar re-statement of the equations compared over a year of random inputs.
use super::*;

const TOL: f64 = 5e-7; // the spec rounds to 6 decimals

/// One-pixel harness with the statics of examples A–C (WHC 100, FC 150, SAT 200, I 10 %).
struct Pixel {
    whc: f64,
    water: f64,
    state: State,
    opts: Options,
}

impl Pixel {
    fn fresh(opts: Options) -> Pixel {
        Pixel {
            whc: 100.0,
            water: 0.0,
            state: State::new(1),
            opts,
        }
    }
    fn resumed(swf: f64, pack: f64, opts: Options) -> Pixel {
        Pixel {
            whc: 100.0,
            water: 0.0,
            state: State::resume(vec![swf], vec![pack]),
            opts,
        }
    }
    fn day(&mut self, p: f64, t: (f64, f64, f64), ndvi: f64, pet: f64) -> Outputs {
        let mut out = Outputs::new(1);
        let s = Statics {
            whc: &[self.whc],
            fc: &[150.0],
            sat: &[200.0],
            interception: &[10.0],
            water: &[self.water],
        };
        let d = Day {
            p: &[p],
            eto: &[pet],
            ndvi: &[ndvi],
            tmin: &[t.0],
            tmax: &[t.1],
            tavg: &[t.2],
        };
        step(
            &Params::default(),
            &self.opts,
            s,
            d,
            &mut self.state,
            &mut out,
        );
        out
    }
}

#[track_caller]
fn near(got: f64, want: f64) {
    assert!((got - want).abs() < TOL, "got {got}, want {want}");
}

#[test]
fn example_a_rain_et_stress_runoff() {
    for opts in [Options::default(), Options::compat()] {
        let mut px = Pixel::fresh(opts);
        let o = px.day(10.0, (8.0, 22.0, 15.0), 0.5, 5.0);
        near(o.swi[0], 59.0);
        near(o.etasw[0], 3.50625);
        near(o.swf[0], 55.49375);
        near(o.rain[0], 9.0);
        near(o.intercept[0], 1.0);
        near(o.netet[0], 0.0);
        let o = px.day(0.0, (10.0, 26.0, 18.0), 0.5, 6.0);
        near(o.etasw[0], 4.2075);
        near(o.swf[0], 51.28625);
        let o = px.day(0.0, (12.0, 28.0, 20.0), 0.3, 6.0);
        near(o.etasw[0], 1.9125);
        near(o.swf[0], 49.37375);
        near(o.etc[0], 2.9325);
        near(o.netet[0], 1.02);
        let o = px.day(0.0, (12.0, 28.0, 20.0), 0.3, 6.0);
        near(o.etasw[0], 1.888546);
        near(o.swf[0], 47.485204);
        near(o.netet[0], 1.043954);
        let o = px.day(100.0, (6.0, 14.0, 10.0), 0.6, 4.0);
        near(o.swi[0], 137.485204);
        near(o.etasw[0], 3.23);
        near(o.srf[0], 13.119821);
        near(o.dd[0], 24.365383);
        near(o.swf[0], 96.77);
        near(o.swf[0] + o.etasw[0] + o.srf[0] + o.dd[0], o.swi[0]);
    }
}

#[test]
fn example_b_snow() {
    let mut px = Pixel::resumed(40.0, 0.0, Options::default());
    let o = px.day(20.0, (-8.0, -2.0, -5.0), 0.2, 0.5);
    near(o.snwpk[0], 18.0);
    near(o.snowmelt[0], 0.0);
    near(o.etasw[0], 0.085);
    near(o.swf[0], 39.915);
    near(o.etc[0], 0.19125);
    near(o.netet[0], 0.10625);
    let o = px.day(10.0, (-2.0, 4.0, 1.0), 0.2, 0.8);
    near(o.rain[0], 1.503);
    near(o.swe[0], 7.497);
    near(o.snowmelt[0], 0.96);
    near(o.snwpk[0], 24.537);
    near(o.swi[0], 42.378);
    near(o.etasw[0], 0.144085);
    near(o.swf[0], 42.233915);
    near(o.netet[0], 0.161915);
    let o = px.day(0.0, (2.0, 10.0, 6.0), 0.2, 1.5);
    near(o.snowmelt[0], 4.8);
    near(o.snwpk[0], 19.737);
    near(o.swi[0], 47.033915);
    near(o.etasw[0], 0.299841);
    near(o.swf[0], 46.734074);
    near(o.etc[0], 0.57375);
    near(o.netet[0], 0.273909);
}

#[test]
fn example_b_prime_2020_melt_typo_differs() {
    let opts = Options {
        melt_formula: MeltFormula::V2020Typo,
        ..Options::compat()
    };
    let mut px = Pixel::resumed(40.0, 0.0, opts);
    let expected = [
        (
            20.0,
            (-8.0, -2.0, -5.0),
            0.5,
            -0.12,
            18.12,
            39.88,
            0.084745,
            39.795255,
        ),
        (
            10.0,
            (-2.0, 4.0, 1.0),
            0.8,
            0.6,
            25.017,
            41.898255,
            0.142454,
            41.755801,
        ),
        (
            0.0,
            (2.0, 10.0, 6.0),
            1.5,
            5.52,
            19.497,
            47.275801,
            0.301383,
            46.974418,
        ),
    ];
    for (p, t, pet, melt, pack, swi, eta, swf) in expected {
        let o = px.day(p, t, 0.2, pet);
        near(o.snowmelt[0], melt);
        near(o.snwpk[0], pack);
        near(o.swi[0], swi);
        near(o.etasw[0], eta);
        near(o.swf[0], swf);
    }
}

#[test]
fn examples_c_edge_cases() {
    // C1 drainage cap
    let o = Pixel::resumed(96.77, 0.0, Options::default()).day(100.0, (6.0, 14.0, 10.0), 0.6, 4.0);
    near(o.swi[0], 186.77);
    near(o.srf[0], 54.27);
    near(o.dd[0], 32.5);
    near(o.etasw[0], 3.23);
    near(o.swf[0], 96.77);
    // C2 water pixel, day 0
    let mut px = Pixel::fresh(Options::default());
    px.water = 1.0;
    let o = px.day(10.0, (8.0, 22.0, 15.0), 0.5, 5.0);
    near(o.swi[0], 59.0);
    near(o.etasw[0], 3.71875);
    near(o.etc[0], 3.50625);
    near(o.netet[0], 0.0);
    near(o.swf[0], 55.28125);
    // C3 negative NDVI
    let o = Pixel::resumed(10.0, 0.0, Options::default()).day(0.0, (8.0, 22.0, 15.0), -0.1, 20.0);
    near(o.etasw[0], 14.875);
    near(o.swf[0], 0.0);
    near(o.etc[0], 1.275);
    near(o.netet[0], 0.0);
    // C4 water with SWi > WHC: negative soil water in compat, clamped in strict
    for (opts, swf) in [(Options::compat(), -1.4625), (Options::default(), 0.0)] {
        let mut px = Pixel::resumed(3.0, 0.0, opts);
        px.whc = 3.0;
        px.water = 1.0;
        let o = px.day(50.0, (8.0, 22.0, 15.0), 0.5, 6.0);
        near(o.swi[0], 48.0);
        near(o.srf[0], 15.75);
        near(o.dd[0], 29.25);
        near(o.etasw[0], 4.4625);
        near(o.swf[0], swf);
    }
    // C5 rain fraction just above 1
    let o = Pixel::resumed(40.0, 0.0, Options::compat()).day(10.0, (2.0, 10.0, 5.99), 0.5, 5.0);
    near(o.rain[0], 9.00297);
    near(o.swe[0], -0.00297);
    near(o.snowmelt[0], -0.00297);
    near(o.snwpk[0], 0.0);
    near(o.swi[0], 49.0);
    near(o.etasw[0], 3.436125);
    near(o.swf[0], 45.563875);
    let o = Pixel::resumed(40.0, 0.0, Options::default()).day(10.0, (2.0, 10.0, 5.99), 0.5, 5.0);
    near(o.rain[0], 9.0);
    near(o.swe[0], 0.0);
    near(o.snowmelt[0], 0.0);
    near(o.swi[0], 49.0);
}

#[test]
fn compat_nan_semantics_and_strict_gaps() {
    // Compat: NaN Tavg → all snow, no melt; NaN NDVI → NaN state that persists.
    let mut px = Pixel::resumed(40.0, 5.0, Options::compat());
    let o = px.day(10.0, (1.0, 5.0, f64::NAN), 0.5, 4.0);
    near(o.swe[0], 9.0);
    near(o.snowmelt[0], 0.0);
    let o = px.day(0.0, (1.0, 5.0, 3.0), f64::NAN, 4.0);
    assert!(o.swf[0].is_nan());
    let o = px.day(0.0, (1.0, 5.0, 3.0), 0.5, 4.0);
    assert!(o.swf[0].is_nan(), "NaN persists in compat mode");
    // Strict: the gap holds the state and is counted; too many in a row invalidate the pixel.
    let mut px = Pixel::resumed(
        40.0,
        5.0,
        Options {
            max_gap_days: 2,
            ..Options::default()
        },
    );
    let o = px.day(0.0, (1.0, 5.0, 3.0), f64::NAN, 4.0);
    assert!(o.swf[0].is_nan());
    assert_eq!(
        (px.state.swf[0], px.state.pack[0], px.state.gap_days[0]),
        (40.0, 5.0, 1)
    );
    let o = px.day(0.0, (1.0, 5.0, 3.0), 0.5, 4.0);
    assert!(o.swf[0].is_finite());
    for _ in 0..3 {
        px.day(0.0, (1.0, 5.0, 3.0), f64::NAN, 4.0);
    }
    assert!(!px.state.valid[0]);
    assert!(px.day(0.0, (1.0, 5.0, 3.0), 0.5, 4.0).swf[0].is_nan());
}

/// Deterministic pseudo-random numbers (xorshift), so the year of inputs is reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

/// The equations of §3 restated as a plain scalar function (valid inputs, defaults, no quirks fixed),
/// written from the spec rather than from the kernel: max/min forms, no NaN care.
fn reference_day(swf: f64, pack: f64, day0: bool, st: [f64; 5], dy: [f64; 6]) -> [f64; 6] {
    let [whc, fc, sat, icpt, water] = st;
    let [p, eto, ndvi, tmin, tmax, tavg] = dy;
    let peff = p * (1.0 - icpt / 100.0);
    let fr = if tavg <= 0.0 {
        0.0
    } else if tavg >= 6.0 {
        1.0
    } else {
        0.167 * tavg
    };
    let (melt, new_pack, swi) = if day0 {
        (0.0, 0.0, 0.5 * whc + peff)
    } else {
        let snow = (1.0 - fr) * peff;
        let mpot = if tavg > 0.0 {
            0.06 * tmax * (tmax - tmin.max(0.0))
        } else {
            0.0
        };
        let melt = mpot.min(snow + pack);
        (melt, (pack + snow - melt).max(0.0), swf + fr * peff + melt)
    };
    let r = (swi - whc).max(0.0);
    let d = sat - fc;
    let dd = 0.65 * r.min(d);
    let srf = r - dd;
    let kcp = 1.25 * ndvi + if ndvi > 0.4 { 0.2 } else { 0.0 };
    let ks = (swi / (0.5 * whc)).min(1.0);
    let land = (ks * kcp * 0.85 * eto).min(swi).min(whc);
    let eta = if water == 1.0 || ndvi < 0.0 {
        0.74375 * eto
    } else {
        land
    };
    let swf_new = if swi > whc {
        whc - eta
    } else {
        (swi - eta).max(0.0)
    };
    [swf_new, new_pack, eta, srf, dd, melt]
}

#[test]
fn kernel_agrees_with_the_scalar_restatement_over_a_year() {
    let n = 3000;
    let mut rng = Rng(0x9E3779B97F4A7C15);
    let whc: Vec<f64> = (0..n).map(|_| rng.range(20.0, 250.0)).collect();
    let fc: Vec<f64> = (0..n).map(|_| rng.range(100.0, 200.0)).collect();
    let sat: Vec<f64> = fc.iter().map(|f| f + rng.range(10.0, 120.0)).collect();
    let icpt: Vec<f64> = (0..n).map(|_| rng.range(0.0, 20.0)).collect();
    let water: Vec<f64> = (0..n)
        .map(|i| if i % 97 == 0 { 1.0 } else { 0.0 })
        .collect();
    let statics = Statics {
        whc: &whc,
        fc: &fc,
        sat: &sat,
        interception: &icpt,
        water: &water,
    };
    for opts in [Options::default(), Options::compat()] {
        let mut state = State::new(n);
        let mut out = Outputs::new(n);
        let (mut rswf, mut rpack) = (vec![0.0; n], vec![0.0; n]);
        let mut rng = Rng(42);
        for t in 0..365 {
            let season = (t as f64 / 365.0 * std::f64::consts::TAU).cos(); // winter at t = 0
            let mut cols: Vec<Vec<f64>> = (0..6).map(|_| Vec::with_capacity(n)).collect();
            for _ in 0..n {
                let tavg = rng.range(-15.0, 10.0) - 12.0 * season + 10.0;
                let spread = rng.range(2.0, 14.0);
                let p = if rng.next() < 0.3 {
                    rng.range(0.0, 40.0)
                } else {
                    0.0
                };
                let ndvi = rng.range(-0.2, 0.9);
                // Keep clear of the f_rain > 1 quirk band, where the modes differ by design.
                let tavg = if (5.98..6.0).contains(&tavg) {
                    6.5
                } else {
                    tavg
                };
                for (c, v) in cols.iter_mut().zip([
                    p,
                    rng.range(0.0, 9.0),
                    ndvi,
                    tavg - spread / 2.0,
                    tavg + spread / 2.0,
                    tavg,
                ]) {
                    c.push(v);
                }
            }
            let day = day_of(&cols, n, 0);
            step(
                &Params::default(),
                &opts,
                statics,
                day,
                &mut state,
                &mut out,
            );
            for i in 0..n {
                let r = reference_day(
                    rswf[i],
                    rpack[i],
                    t == 0,
                    [whc[i], fc[i], sat[i], icpt[i], water[i]],
                    [
                        cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i],
                    ],
                );
                let water_rule = water[i] == 1.0 || cols[2][i] < 0.0;
                // Strict clamps soil water on water-rule pixels; compare against the clamped form there.
                let want_swf = if opts.mode == Mode::Strict && water_rule {
                    r[0].clamp(0.0, whc[i])
                } else {
                    r[0]
                };
                for (got, want) in [
                    (out.swf[i], want_swf),
                    (out.snwpk[i], r[1]),
                    (out.etasw[i], r[2]),
                    (out.srf[i], r[3]),
                    (out.dd[i], r[4]),
                    (out.snowmelt[i], r[5]),
                ] {
                    assert!(
                        (got - want).abs() <= 1e-9 * (1.0 + want.abs()),
                        "{:?} day {t} pixel {i}: {got} vs {want}",
                        opts.mode
                    );
                }
                rswf[i] = want_swf;
                rpack[i] = r[1];
                if !water_rule && t > 0 {
                    // §9 invariants on land pixels.
                    assert!(
                        out.swf[i] >= 0.0
                            && out.swf[i] <= whc[i] + 1e-9
                            && out.snwpk[i] >= 0.0
                            && out.netet[i] >= 0.0
                    );
                    let balance = out.swf[i] + out.etasw[i] + out.srf[i] + out.dd[i] - out.swi[i];
                    assert!(
                        balance.abs() < 1e-9,
                        "mass balance day {t} pixel {i}: {balance}"
                    );
                }
            }
        }
    }
}

#[test]
fn restart_from_state_and_tiling_equal_one_run() {
    let n = 64;
    let mut rng = Rng(7);
    let whc: Vec<f64> = (0..n).map(|_| rng.range(30.0, 200.0)).collect();
    let fc = vec![150.0; n];
    let sat = vec![210.0; n];
    let icpt = vec![5.0; n];
    let water = vec![0.0; n];
    let days: Vec<[Vec<f64>; 6]> = (0..40)
        .map(|_| {
            let mut c: [Vec<f64>; 6] = Default::default();
            for _ in 0..n {
                let t = rng.range(-5.0, 20.0);
                for (col, v) in c.iter_mut().zip([
                    rng.range(0.0, 15.0),
                    rng.range(1.0, 7.0),
                    rng.range(0.0, 0.9),
                    t - 4.0,
                    t + 4.0,
                    t,
                ]) {
                    col.push(v);
                }
            }
            c
        })
        .collect();
    let run = |range: std::ops::Range<usize>,
               from: std::ops::Range<usize>,
               state: &mut State|
     -> Vec<Outputs> {
        let s = Statics {
            whc: &whc[range.clone()],
            fc: &fc[range.clone()],
            sat: &sat[range.clone()],
            interception: &icpt[range.clone()],
            water: &water[range.clone()],
        };
        days[from]
            .iter()
            .map(|c| {
                let mut out = Outputs::new(range.len());
                let d = Day {
                    p: &c[0][range.clone()],
                    eto: &c[1][range.clone()],
                    ndvi: &c[2][range.clone()],
                    tmin: &c[3][range.clone()],
                    tmax: &c[4][range.clone()],
                    tavg: &c[5][range.clone()],
                };
                step(
                    &Params::default(),
                    &Options::default(),
                    s,
                    d,
                    state,
                    &mut out,
                );
                out
            })
            .collect()
    };
    let mut whole = State::new(n);
    let all = run(0..n, 0..40, &mut whole);
    // Two tiles.
    let (mut a, mut b) = (State::new(32), State::new(32));
    let (ta, tb) = (run(0..32, 0..40, &mut a), run(32..64, 0..40, &mut b));
    for t in 0..40 {
        assert_eq!(
            [ta[t].etasw.clone(), tb[t].etasw.clone()].concat(),
            all[t].etasw
        );
    }
    // Stop after 20 days, save state, resume.
    let mut first = State::new(n);
    run(0..n, 0..20, &mut first);
    let mut resumed = State::resume(first.swf.clone(), first.pack.clone());
    let rest = run(0..n, 20..40, &mut resumed);
    for t in 20..40 {
        assert_eq!(rest[t - 20].swf, all[t].swf);
        assert_eq!(rest[t - 20].etasw, all[t].etasw);
    }
}

#[test]
fn tiled_parallel_run_equals_day_by_day_and_closes_the_water_balance() {
    let (n, days) = (1000, 60);
    let mut rng = Rng(11);
    let whc: Vec<f64> = (0..n).map(|_| rng.range(30.0, 200.0)).collect();
    let fc = vec![150.0; n];
    let sat: Vec<f64> = (0..n).map(|_| rng.range(160.0, 260.0)).collect();
    let icpt: Vec<f64> = (0..n).map(|_| rng.range(0.0, 15.0)).collect();
    let water = vec![0.0; n];
    let statics = Statics {
        whc: &whc,
        fc: &fc,
        sat: &sat,
        interception: &icpt,
        water: &water,
    };
    let mut cols: Vec<Vec<f64>> = (0..6).map(|_| Vec::with_capacity(n * days)).collect();
    for _ in 0..n * days {
        let t = rng.range(-10.0, 25.0);
        for (c, v) in cols.iter_mut().zip([
            rng.range(0.0, 20.0),
            rng.range(0.5, 8.0),
            rng.range(0.05, 0.9),
            t - 5.0,
            t + 5.0,
            t,
        ]) {
            c.push(v);
        }
    }
    let stack = stack_of(&cols, n, days);
    let opts = Options::default();
    let (state, sums) = run(
        &Params::default(),
        &opts,
        statics,
        stack,
        State::new(n),
        128,
    );

    let mut reference = State::new(n);
    let mut out = Outputs::new(n);
    let mut eta_sum = vec![0.0; n];
    let mut peff_sum = vec![0.0; n];
    let mut runoff = vec![0.0; n];
    for t in 0..days {
        let d = day_of(&cols, n, t);
        step(
            &Params::default(),
            &opts,
            statics,
            d,
            &mut reference,
            &mut out,
        );
        for i in 0..n {
            eta_sum[i] += out.etasw[i];
            peff_sum[i] += cols[0][t * n + i] * (1.0 - icpt[i] / 100.0);
            runoff[i] += out.srf[i] + out.dd[i];
        }
    }
    assert_eq!(state, reference);
    for i in 0..n {
        assert!((sums.etasw[i] - eta_sum[i]).abs() < 1e-9);
        assert_eq!(sums.valid_days[i], days as u32);
        // §9: 0.5·WHC + Σ P_eff = Σ (ETa + SRf + DD) + SWf_T + Pack_T
        let lhs = 0.5 * whc[i] + peff_sum[i];
        let rhs = sums.etasw[i] + sums.srf[i] + sums.dd[i] + state.swf[i] + state.pack[i];
        assert!((lhs - rhs).abs() < 1e-7, "pixel {i}: {lhs} vs {rhs}");
        assert!((sums.srf[i] + sums.dd[i] - runoff[i]).abs() < 1e-9);
    }
}

#[test]
fn tiled_run_equals_stepping_with_gaps_water_and_every_option_set() {
    // Tiles of 50: tiles 0 and 2 hold gaps (NaN inputs), a NaN static, water and negative-NDVI pixels,
    // so the branch-free common-case loop and the general loop both run, in all three option sets.
    let (n, days, tile) = (200, 45, 50);
    let mut rng = Rng(23);
    let whc: Vec<f64> = (0..n).map(|_| rng.range(30.0, 200.0)).collect();
    let fc = vec![150.0; n];
    let mut sat: Vec<f64> = (0..n).map(|_| rng.range(160.0, 260.0)).collect();
    sat[107] = f64::NAN;
    let icpt: Vec<f64> = (0..n).map(|_| rng.range(0.0, 15.0)).collect();
    let water: Vec<f64> = (0..n)
        .map(|i| if i % 37 == 5 { 1.0 } else { 0.0 })
        .collect();
    let statics = Statics {
        whc: &whc,
        fc: &fc,
        sat: &sat,
        interception: &icpt,
        water: &water,
    };
    let mut cols: Vec<Vec<f64>> = (0..6).map(|_| Vec::with_capacity(n * days)).collect();
    for k in 0..n * days {
        let (t, i) = (k / n, k % n);
        let tavg = rng.range(-12.0, 28.0);
        let gap = (i < 50 && (t * 7 + i) % 61 == 0) || (i == 130 && (10..18).contains(&t));
        let ndvi = if i % 41 == 3 {
            -0.1
        } else {
            rng.range(0.0, 0.9)
        };
        for (c, v) in cols.iter_mut().zip([
            if gap { f64::NAN } else { rng.range(0.0, 20.0) },
            rng.range(0.5, 8.0),
            ndvi,
            tavg - 6.0,
            tavg + 6.0,
            tavg,
        ]) {
            c.push(v);
        }
    }
    let stack = stack_of(&cols, n, days);
    let custom = Options {
        melt_formula: MeltFormula::V2014,
        clamp_melt: false,
        max_gap_days: 3,
        ..Options::default()
    };
    let same = |a: &[f64], b: &[f64]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
    };
    for opts in [Options::default(), Options::compat(), custom] {
        let (state, sums) = run(
            &Params::default(),
            &opts,
            statics,
            stack,
            State::new(n),
            tile,
        );
        let mut reference = State::new(n);
        let mut out = Outputs::new(n);
        let mut want = Sums {
            etasw: vec![0.0; n],
            srf: vec![0.0; n],
            dd: vec![0.0; n],
            rain: vec![0.0; n],
            intercept: vec![0.0; n],
            swe: vec![0.0; n],
            etc: vec![0.0; n],
            netet: vec![0.0; n],
            valid_days: vec![0; n],
        };
        for t in 0..days {
            let d = day_of(&cols, n, t);
            step(
                &Params::default(),
                &opts,
                statics,
                d,
                &mut reference,
                &mut out,
            );
            for i in 0..n {
                if out.etasw[i].is_nan() {
                    continue;
                }
                want.etasw[i] += out.etasw[i];
                want.srf[i] += out.srf[i];
                want.dd[i] += out.dd[i];
                want.rain[i] += out.rain[i];
                want.intercept[i] += out.intercept[i];
                want.swe[i] += out.swe[i];
                want.etc[i] += out.etc[i];
                want.netet[i] += out.netet[i];
                want.valid_days[i] += 1;
            }
        }
        assert!(same(&state.swf, &reference.swf), "{:?}", opts.mode);
        assert!(same(&state.pack, &reference.pack));
        assert_eq!(
            (
                &state.started,
                &state.gap_days,
                &state.gap_run,
                &state.valid
            ),
            (
                &reference.started,
                &reference.gap_days,
                &reference.gap_run,
                &reference.valid
            )
        );
        for (got, exp) in [
            (&sums.etasw, &want.etasw),
            (&sums.srf, &want.srf),
            (&sums.dd, &want.dd),
            (&sums.rain, &want.rain),
            (&sums.intercept, &want.intercept),
            (&sums.swe, &want.swe),
            (&sums.etc, &want.etc),
            (&sums.netet, &want.netet),
        ] {
            assert!(same(got, exp), "{:?}", opts.mode);
        }
        assert_eq!(sums.valid_days, want.valid_days);
        // The gaps were real: strict mode lost pixel-days, and compat mode produced NaN days.
        assert!(want.valid_days.iter().any(|&d| d < days as u32));
    }
}

/// Six time-major input columns (p, eto, ndvi, tmin, tmax, tavg) as a period.
fn stack_of(cols: &[Vec<f64>], pixels: usize, days: usize) -> Stack<'_> {
    Stack {
        pixels,
        days,
        p: &cols[0],
        eto: &cols[1],
        ndvi: &cols[2],
        tmin: &cols[3],
        tmax: &cols[4],
        tavg: &cols[5],
    }
}

/// Day `t` of six time-major input columns.
fn day_of(cols: &[Vec<f64>], pixels: usize, t: usize) -> Day<'_> {
    let r = t * pixels..(t + 1) * pixels;
    Day {
        p: &cols[0][r.clone()],
        eto: &cols[1][r.clone()],
        ndvi: &cols[2][r.clone()],
        tmin: &cols[3][r.clone()],
        tmax: &cols[4][r.clone()],
        tavg: &cols[5][r],
    }
}

/// f32 inputs (an index-driven run's) against the same inputs in f64 over a year: every daily output
/// and the year's ETa within 1e-4 mm, with values stored exactly on the kernel's thresholds (an int16
/// NDVI of 4000 is 0.4; Tavg exactly 0 and 6 °C) on the same side at either precision.
#[test]
fn f32_inputs_stay_within_1e_4_mm_of_f64() {
    let (n, days) = (64, 365);
    let mut rng = Rng(7);
    let whc: Vec<f64> = (0..n).map(|_| rng.range(30.0, 200.0)).collect();
    let fc = vec![150.0; n];
    let sat: Vec<f64> = (0..n).map(|_| rng.range(160.0, 260.0)).collect();
    let icpt: Vec<f64> = (0..n).map(|_| rng.range(0.0, 15.0)).collect();
    let water = vec![0.0; n];
    let statics = Statics {
        whc: &whc,
        fc: &fc,
        sat: &sat,
        interception: &icpt,
        water: &water,
    };
    let mut cols: Vec<Vec<f64>> = (0..6).map(|_| Vec::with_capacity(n * days)).collect();
    for k in 0..n * days {
        let (t, i) = (k / n, k % n);
        // gridMET-like temperatures (kelvin, 0.1 K packing) to °C; CHIRPS-like rain; MODIS NDVI
        // from int16 at 1e-4.
        let kelvin = |v: f64| (v * 10.0).round() / 10.0 - 273.15;
        let season = (t as f64 / 365.0 * std::f64::consts::TAU).sin();
        let (mut tmin, mut tmax) = (
            kelvin(262.0 + 14.0 * season + rng.range(-4.0, 4.0)),
            kelvin(276.0 + 14.0 * season + rng.range(-4.0, 4.0)),
        );
        match (i % 8, t % 3) {
            (1, 0) => (tmin, tmax) = (-3.5, 3.5),
            (2, 0) => (tmin, tmax) = (1.25, 10.75),
            _ => {}
        }
        let ndvi = if i % 8 == 0 {
            4000.0 * 1e-4
        } else {
            (rng.range(0.05, 0.85) * 1e4).round() * 1e-4
        };
        let p = if rng.next() < 0.3 {
            rng.range(0.0, 25.0)
        } else {
            0.0
        };
        let eto = rng.range(0.5, 8.0);
        for (c, v) in cols
            .iter_mut()
            .zip([p, eto, ndvi, tmin, tmax, (tmin + tmax) / 2.0])
        {
            c.push(v);
        }
    }
    // As a run rounds them: each input once, Tavg from the f64 temperatures (from the rounded ones,
    // a Tavg of 2.8e-14 °C — the f64 rounding noise of −8.15 + 8.15 — would become 0 and switch the
    // day's melt off).
    let cols32: Vec<Vec<f32>> = cols
        .iter()
        .map(|c| c.iter().map(|&v| v as f32).collect())
        .collect();
    let (mut s64, mut s32) = (State::new(n), State::new(n));
    let (mut o64, mut o32) = (Outputs::new(n), Outputs::new(n));
    let (mut year64, mut year32) = (vec![0.0; n], vec![0.0; n]);
    let mut worst: f64 = 0.0;
    for t in 0..days {
        let r = t * n..(t + 1) * n;
        let d32 = Day {
            p: &cols32[0][r.clone()],
            eto: &cols32[1][r.clone()],
            ndvi: &cols32[2][r.clone()],
            tmin: &cols32[3][r.clone()],
            tmax: &cols32[4][r.clone()],
            tavg: &cols32[5][r],
        };
        let p = Params::default();
        step(
            &p,
            &Options::default(),
            statics,
            day_of(&cols, n, t),
            &mut s64,
            &mut o64,
        );
        step(&p, &Options::default(), statics, d32, &mut s32, &mut o32);
        for name in DAILY_NAMES {
            let (a, b) = (o64.by_name(name).unwrap(), o32.by_name(name).unwrap());
            for (x, y) in a.iter().zip(b) {
                assert_eq!(x.is_nan(), y.is_nan(), "{name} on day {t}");
                if x.is_finite() {
                    worst = worst.max((x - y).abs());
                }
            }
        }
        for i in 0..n {
            year64[i] += o64.etasw[i];
            year32[i] += o32.etasw[i];
        }
    }
    let year = year64
        .iter()
        .zip(&year32)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1e-4, "largest daily difference {worst:e} mm");
    assert!(
        year <= 1e-4,
        "largest difference of the year's ETa {year:e} mm"
    );
    // Not trivially equal: the inputs did change.
    assert!(worst > 0.0);
}
