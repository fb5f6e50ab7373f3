//! Two `etlake index` runs of the same lake at once, into one index: every dataset is written once (the
//! runs' `indexed` add up to the lake), the loser of each race reports `unchanged`, and both succeed.
mod common;
use common::*;

#[test]
fn concurrent_runs_write_each_dataset_once() {
    let pg = cluster_with_bench_product();
    let lake = tempdir();
    let n = 3_000;
    sample_lake::landsat::write_bench_items(lake.path(), n).unwrap();
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_etlake"))
            .args([
                "--db",
                &pg.url.python_url(),
                "index",
                lake.path().to_str().unwrap(),
                "--batch-size",
                "100",
            ])
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(run);
        let b = s.spawn(run);
        (a.join().unwrap(), b.join().unwrap())
    });
    // "run 2: 1400 indexed, 1600 unchanged in 3.1 s (…)": the number before each outcome.
    let count = |out: &std::process::Output, what: &str| -> usize {
        let t = text(out);
        let words: Vec<&str> = t.split_whitespace().collect();
        words
            .windows(2)
            .filter(|w| w[1].trim_end_matches(',') == what)
            .filter_map(|w| w[0].parse::<usize>().ok())
            .sum()
    };
    let (ta, tb) = (ok(a.clone()), ok(b.clone()));
    assert_eq!(
        count(&a, "indexed") + count(&b, "indexed"),
        n,
        "each dataset indexed by exactly one run:\n{ta}\n{tb}"
    );
    assert_eq!(
        count(&a, "indexed") + count(&a, "unchanged"),
        n,
        "run A accounts for every object:\n{ta}"
    );
    assert_eq!(
        count(&b, "indexed") + count(&b, "unchanged"),
        n,
        "run B accounts for every object:\n{tb}"
    );
    for table in ["agdc.dataset", "agdc.dataset_location", "etlake.stac_item"] {
        assert_eq!(
            rows(&pg.url, &format!("SELECT count(*)::text FROM {table}")),
            [n.to_string()],
            "{table}"
        );
    }
}

#[test]
fn a_dataset_committed_by_another_writer_mid_batch_is_unchanged_and_the_batch_lands() {
    let pg = cluster_with_bench_product();
    let lake = tempdir();
    let n = 200;
    sample_lake::landsat::write_bench_items(lake.path(), n).unwrap();
    let dir = lake.path().to_str().unwrap();
    // The ids etlake will write, from a dry run's report.
    let report = tempdir();
    let jsonl = report.path().join("dry.jsonl");
    ok(etlake(
        &pg.url,
        &[
            "index",
            dir,
            "--dry-run",
            "--report",
            jsonl.to_str().unwrap(),
        ],
    ));
    let first: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&jsonl)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let id = first["dataset"].as_str().unwrap().to_string();
    // Another writer inserts that dataset and holds its transaction open while etlake writes the
    // batch: etlake's existence check cannot see it, its COPY waits on the row, then collides.
    let mut other = connect(&pg.url);
    let mut tx = other.transaction().unwrap();
    tx.batch_execute(&format!(
        "INSERT INTO agdc.dataset (id, dataset_type_ref, metadata_type_ref, metadata) \
         SELECT '{id}', p.id, p.metadata_type_ref, '{{}}'::jsonb FROM agdc.dataset_type p"
    ))
    .unwrap();
    let out = std::thread::scope(|s| {
        let run = s.spawn(|| etlake(&pg.url, &["index", dir]));
        std::thread::sleep(std::time::Duration::from_secs(3));
        tx.commit().unwrap();
        run.join().unwrap()
    });
    let t = ok(out);
    assert!(
        t.contains(&format!("{} indexed, 1 unchanged", n - 1)),
        "the other writer's dataset is unchanged, the rest indexed:\n{t}"
    );
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM agdc.dataset"),
        [n.to_string()]
    );
    assert_eq!(
        rows(&pg.url, "SELECT count(*)::text FROM etlake.stac_item"),
        [(n - 1).to_string()],
        "STAC items for the datasets this run wrote"
    );
}
