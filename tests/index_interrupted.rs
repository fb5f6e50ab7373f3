//! An indexing run killed mid-way leaves only whole batches (every dataset with its location and STAC
//! item), and the rerun completes it: nothing duplicated, nothing missing.
mod common;
use common::*;

#[test]
fn a_killed_run_leaves_whole_batches_and_the_rerun_completes_it() {
    let pg = cluster_with_bench_product();
    let lake = tempdir();
    let n = 20_000;
    sample_lake::landsat::write_bench_items(lake.path(), n).unwrap();

    let home = tempdir();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_etlake"))
        .current_dir(home.path())
        .args([
            "--db",
            &pg.url.python_url(),
            "index",
            lake.path().to_str().unwrap(),
            "--batch-size",
            "100",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the first committed batch, then kill without warning.
    for _ in 0..600 {
        if rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset")[0] != "0" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();

    let k: usize = rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset")[0]
        .parse()
        .unwrap();
    // The first batch holds 64 objects (writing starts early), the next ones 100.
    assert!(
        k >= 64 && (k - 64).is_multiple_of(100) && k <= n,
        "{k} datasets after the kill: batches must be whole"
    );
    let whole = "SELECT count(*)::text FROM agdc.dataset d \
        WHERE EXISTS (SELECT 1 FROM agdc.dataset_location l WHERE l.dataset_ref = d.id) \
        AND EXISTS (SELECT 1 FROM etlake.stac_item s WHERE s.dataset_ref = d.id)";
    assert_eq!(rows(&pg.url, whole), [k.to_string()]);
    assert_eq!(
        rows(&pg.url, "SELECT status FROM etlake.index_run"),
        ["running"],
        "the killed run stays visibly unfinished"
    );

    let t = ok(etlake(&pg.url, &["index", lake.path().to_str().unwrap()]));
    let (indexed, unchanged) = (n - k, k);
    assert!(
        t.contains(&format!("{indexed} indexed")) || indexed == 0,
        "{t}"
    );
    assert!(t.contains(&format!("{unchanged} unchanged")), "{t}");
    assert_eq!(rows(&pg.url, whole), [n.to_string()]);
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset_location"),
        [n.to_string()]
    );
}
