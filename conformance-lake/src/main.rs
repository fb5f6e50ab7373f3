//! `conformance-lake DIR`: writes the conformance lake (see the library docs) into DIR.
fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: conformance-lake DIR");
        std::process::exit(2);
    };
    match conformance_lake::write(std::path::Path::new(&dir)) {
        Ok(m) => println!("{} files written to {dir}", m.files().len()),
        Err(e) => {
            eprintln!("conformance-lake: {e}");
            std::process::exit(1);
        }
    }
}
