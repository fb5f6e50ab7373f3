//! Search latency: N product + month + small-box queries through `catalog_schema::search` on one
//! connection, printing p50/p90 in milliseconds (used by `scripts/bench-search.sh`).
//!
//! Run: `cargo run --release --example bench_search -- PRODUCT N` (queries are deterministic)
use catalog_schema::config::{self, ConnectOptions, SystemEnv};
use catalog_schema::search::{parse_time_range, search, Query};
use catalog_schema::Catalog;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let product = args.next().ok_or("usage: bench_search PRODUCT N")?;
    let n: usize = args.next().unwrap_or_else(|| "100".into()).parse()?;
    let resolved = config::resolve(&ConnectOptions::default(), &SystemEnv)?;
    let mut catalog = Catalog::open(&resolved, &SystemEnv)?;
    // Two passes of the same queries on one connection, the second timed: a served index answers
    // a long-lived client (the first pass maps the cached pages into this connection's backend).
    let mut times = Vec::with_capacity(n);
    let mut found = 0;
    for _pass in 0..2 {
        times.clear();
        found = 0;
        for k in 0..n {
            let q = query(&product, k)?;
            let start = Instant::now();
            found += search(&mut catalog, &q)?.len();
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "etlake {:.2} {:.2} {}",
        times[n / 2],
        times[n * 9 / 10],
        found
    );
    Ok(())
}

/// Query k of the sequence the Python side runs too: month k % 12 of 2020, a 0.3° box on the grid.
fn query(product: &str, k: usize) -> Result<Query, Box<dyn std::error::Error>> {
    let month = k % 12 + 1;
    let end = if month == 12 {
        "2021-01-01".to_string()
    } else {
        format!("2020-{:02}-01", month + 1)
    };
    let time = parse_time_range(&format!("2020-{month:02}-01/{end}"))?;
    let (w, s) = (
        -120.0 + (k * 7 % 40) as f64 + 0.35,
        30.0 + (k * 3 % 25) as f64 + 0.35,
    );
    Ok(Query {
        product: product.to_string(),
        time: Some(time),
        bbox: Some([w, s, w + 0.3, s + 0.3]),
        limit: None,
    })
}
