//! Writes the Landsat STAC benchmark workload: `cargo run -p sample-lake --example landsat_items -- DIR N`
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: landsat_items DIR N")?;
    let n: usize = args.next().ok_or("usage: landsat_items DIR N")?.parse()?;
    let paths = sample_lake::landsat::write_bench_items(std::path::Path::new(&dir), n)?;
    println!("wrote {} items under {dir}", paths.len());
    Ok(())
}
