//! Kernel throughput: pixel-days per second on N pixels × D days of synthetic inputs (the same
//! generator as scripts/bench-veget.sh uses for numpy). `cargo run --release -p model --example bench_veget -- N D`
use model::veget::{step, Day, Options, Outputs, Params, State, Statics};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let days: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(30);
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
    let secs = start.elapsed().as_secs_f64();
    // Bytes touched per pixel-day: 11 input arrays read, 13 outputs + 2 state arrays written, state read.
    let bytes = (11 + 13 + 4) as f64 * 8.0 * n as f64 * days as f64;
    println!(
        "rust {n} {days} {secs:.4} {:.0} {:.2}",
        (n * days) as f64 / secs,
        bytes / secs / 1e9
    );
    std::hint::black_box(&out);
}
