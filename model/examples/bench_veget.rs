//! Kernel throughput: pixel-days per second on N pixels × D days of synthetic inputs (the same
//! generator as scripts/bench-veget.sh uses for numpy). `cargo run --release -p model --example bench_veget -- N D`
use model::veget::{run, step, Day, Options, Outputs, Params, Stack, State, Statics};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let days: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
    let tile: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2048);
    // Deterministic inputs: smooth fields, no randomness needed for throughput.
    let f = |i: usize, a: f64, b: f64| a + (b - a) * (((i * 2654435761) % 1000) as f64 / 1000.0);
    let whc: Vec<f64> = (0..n).map(|i| f(i, 30.0, 200.0)).collect();
    let fc = vec![150.0; n];
    let sat = vec![220.0; n];
    let icpt = vec![5.0; n];
    let water = vec![0.0; n];
    let statics = Statics {
        whc: &whc,
        fc: &fc,
        sat: &sat,
        interception: &icpt,
        water: &water,
    };
    let p: Vec<f64> = (0..n).map(|i| f(i + 1, 0.0, 12.0)).collect();
    let eto: Vec<f64> = (0..n).map(|i| f(i + 2, 1.0, 7.0)).collect();
    let ndvi: Vec<f64> = (0..n).map(|i| f(i + 3, 0.0, 0.9)).collect();
    let tavg: Vec<f64> = (0..n).map(|i| f(i + 4, -5.0, 25.0)).collect();
    let tmin: Vec<f64> = tavg.iter().map(|t| t - 5.0).collect();
    let tmax: Vec<f64> = tavg.iter().map(|t| t + 5.0).collect();
    let day = Day {
        p: &p,
        eto: &eto,
        ndvi: &ndvi,
        tmin: &tmin,
        tmax: &tmax,
        tavg: &tavg,
    };
    let mut state = State::new(n);
    let mut out = Outputs::new(n);
    let params = Params::default();
    let opts = Options::default();
    let start = std::time::Instant::now();
    for _ in 0..days {
        step(&params, &opts, statics, day, &mut state, &mut out);
    }
    let day_secs = start.elapsed().as_secs_f64();
    std::hint::black_box(&out);
    // The period as one time-major stack, run tile by tile (cache-resident) in parallel.
    let repeat = |v: &Vec<f64>| v.repeat(days);
    let (sp, se, sn) = (repeat(&p), repeat(&eto), repeat(&ndvi));
    let (s0, s1, sa) = (repeat(&tmin), repeat(&tmax), repeat(&tavg));
    let stack = Stack {
        pixels: n,
        days,
        p: &sp,
        eto: &se,
        ndvi: &sn,
        tmin: &s0,
        tmax: &s1,
        tavg: &sa,
    };
    // A warm-up run first (thread pool started, allocator warm), then the timed one.
    std::hint::black_box(run(&params, &opts, statics, stack, State::new(n), tile));
    let state = State::new(n);
    let start = std::time::Instant::now();
    let (_, sums) = run(&params, &opts, statics, stack, state, tile);
    let secs = start.elapsed().as_secs_f64();
    std::hint::black_box(&sums);
    // The same run with f32 inputs (as an index-driven run feeds the kernel).
    let narrow = |v: &Vec<f64>| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let (fp, fe, fn_) = (narrow(&sp), narrow(&se), narrow(&sn));
    let (f0, f1, fa) = (narrow(&s0), narrow(&s1), narrow(&sa));
    let stack32 = Stack {
        pixels: n,
        days,
        p: &fp,
        eto: &fe,
        ndvi: &fn_,
        tmin: &f0,
        tmax: &f1,
        tavg: &fa,
    };
    std::hint::black_box(run(&params, &opts, statics, stack32, State::new(n), tile));
    let start = std::time::Instant::now();
    let (_, sums32) = run(&params, &opts, statics, stack32, State::new(n), tile);
    let secs32 = start.elapsed().as_secs_f64();
    std::hint::black_box(&sums32);
    // What the tiled run must move per pixel-day: the 6 daily inputs (statics, state, outputs stay in
    // cache), 8 bytes each in f64 and 4 in f32.
    let bytes = 6.0 * 8.0 * n as f64 * days as f64;
    let rate = (n * days) as f64 / secs;
    let rate32 = (n * days) as f64 / secs32;
    let day_rate = (n * days) as f64 / day_secs;
    println!(
        "rust {n} {days} {secs:.4} {rate:.0} {:.2} {day_rate:.0} {rate32:.0} {:.2}",
        bytes / secs / 1e9,
        bytes / 2.0 / secs32 / 1e9
    );
}
