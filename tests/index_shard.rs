//! `etlake index --shard i/N`: four concurrent runs over one lake index exactly the datasets one run
//! indexes, each object read and reported by one shard only (a multi-file dataset's siblings with the
//! file that claims them), every run exits 0, and each says how many objects it left to the others.
//! The shard index comes from the argument or from the variables Kubernetes Indexed Jobs and AWS Batch
//! array jobs set.
mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn report_rows(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (dataset id, product, location) of every active dataset.
fn datasets(url: &catalog_schema::DbUrl) -> Vec<String> {
    rows(
        url,
        "SELECT d.id::text || ' ' || p.name || ' ' || l.uri_scheme || ':' || l.uri_body \
         FROM agdc.dataset d JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref \
         JOIN agdc.dataset_location l ON l.dataset_ref = d.id WHERE d.archived IS NULL ORDER BY 1",
    )
}

/// "left to other shards 12:" → 12 (0 when the line is absent).
fn left_to_others(out: &str) -> usize {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("left to other shards "))
        .and_then(|r| r.split(':').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// What four concurrent shard runs did: each object URI → the shard that reported it, and each
/// shard's output.
struct Sharded {
    owner: BTreeMap<String, usize>,
    texts: Vec<String>,
}

/// Indexes with `index_args` once into `pg`'s database and as four concurrent shards into a second
/// database of the same cluster (`vars` added to every run), and checks that the shards index the
/// same datasets and report the same rows, each object by one shard, each run exiting 0.
fn single_and_four_shards(pg: &Cluster, index_args: &[String], vars: &[(&str, &str)]) -> Sharded {
    let sharded = pg.create_db("sharded");
    ok(etlake(&sharded, &["db", "init"]));
    let defs = workspace().join("product-defs/products");
    ok(etlake(
        &sharded,
        &["product", "add", defs.to_str().unwrap()],
    ));
    let reports = tempdir();
    let one = reports.path().join("one.jsonl");
    let args = |report: &Path| -> Vec<String> {
        let mut a = index_args.to_vec();
        a.extend(["--report".to_string(), report.display().to_string()]);
        a
    };
    let single = args(&one);
    let single_out = ok(etlake_with(
        &pg.url,
        vars,
        &single.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    assert!(!single_out.contains("left to other shards"), "{single_out}");

    // Four at once: two by argument, one as a Kubernetes Indexed Job pod (index from the environment,
    // count from --shard-count), one as an AWS Batch array child (both from the environment).
    let shard_report = |i: usize| reports.path().join(format!("shard{i}.jsonl"));
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..4)
            .map(|i| {
                let (sharded, shard_report, args) = (&sharded, &shard_report, &args);
                s.spawn(move || {
                    let mut a = args(&shard_report(i));
                    let index = i.to_string();
                    let mut env: Vec<(&str, &str)> = vars.to_vec();
                    match i {
                        0 | 1 => a.extend(["--shard".into(), format!("{i}/4")]),
                        2 => {
                            a.extend(["--shard-count".into(), "4".into()]);
                            env.push(("JOB_COMPLETION_INDEX", index.as_str()));
                        }
                        _ => env.extend([
                            ("AWS_BATCH_JOB_ARRAY_INDEX", index.as_str()),
                            ("AWS_BATCH_JOB_ARRAY_SIZE", "4"),
                        ]),
                    };
                    let a: Vec<&str> = a.iter().map(String::as_str).collect();
                    etlake_with(sharded, &env, &a)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let texts: Vec<String> = outs.into_iter().map(ok).collect();

    // The same datasets, at the same locations.
    let expected = datasets(&pg.url);
    assert!(expected.len() > 20, "{single_out}");
    assert_eq!(datasets(&sharded), expected);

    // Every object the single run reported, reported by exactly one shard, with the same outcome.
    let key = |r: &Value| {
        format!(
            "{} {} {}",
            r["uri"].as_str().unwrap(),
            r["outcome"],
            r["dataset"]
        )
    };
    let mut want: Vec<String> = report_rows(&one).iter().map(key).collect();
    want.sort();
    let mut owner: BTreeMap<String, usize> = BTreeMap::new();
    let mut got = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        assert!(text.contains(&format!("(shard {i}/4)")), "{text}");
        let rows = report_rows(&shard_report(i));
        assert!(!rows.is_empty(), "shard {i} took nothing:\n{text}");
        for r in &rows {
            let uri = r["uri"].as_str().unwrap().to_string();
            // (A gridMET yearly file gives one row per day, all from its one shard.)
            let first = *owner.entry(uri.clone()).or_insert(i);
            assert_eq!(first, i, "{uri} read by shards {first} and {i}");
            got.push(key(r));
        }
        // What a shard leaves to the others is what they report.
        let others: usize = (0..4)
            .filter(|j| *j != i)
            .map(|j| {
                let mut uris: Vec<String> = report_rows(&shard_report(j))
                    .iter()
                    .map(|r| r["uri"].as_str().unwrap().to_string())
                    .collect();
                uris.dedup();
                uris.len()
            })
            .sum();
        assert_eq!(left_to_others(text), others, "shard {i}:\n{text}");
    }
    got.sort();
    assert_eq!(got, want, "the shards' rows are the single run's rows");

    Sharded { owner, texts }
}

#[test]
fn four_shards_index_what_one_run_indexes_each_object_once() {
    let pg = cluster_with_products();
    let lake = tempdir();
    let l = lake.path();
    // CHIRPS dailies (.tif and .tif.gz), gridMET yearly NetCDF, MODIS HDF-EOS tiles, soil grids whose
    // fc/sat files are siblings of the whc file, and Landsat scenes (STAC items and their COGs).
    sample_lake::lake::write(l, 10).unwrap();
    std::fs::write(l.join("README.txt"), "not data").unwrap();
    let src = l.to_str().unwrap();
    let rewrite = format!("{}=file://{}/", sample_lake::scenes::USGS_DATA, l.display());
    let args: Vec<String> = ["index", src, "--href-rewrite", &rewrite]
        .map(String::from)
        .to_vec();
    let Sharded { owner, texts } = single_and_four_shards(&pg, &args, &[]);
    let sharded = {
        let mut u = pg.url.clone();
        u.dbname = Some("sharded".into());
        u
    };
    // A soil dataset's sibling files (fc, sat) go with the whc file that claims them.
    let soil: Vec<(&String, &usize)> = owner.iter().filter(|(u, _)| u.contains("/soil/")).collect();
    assert!(soil.len() >= 3, "{soil:?}");
    for (uri, shard) in &soil {
        let whc = uri
            .replace("_fc.tif", "_whc.tif")
            .replace("_sat.tif", "_whc.tif");
        assert_eq!(owner.get(&whc), Some(*shard), "{uri} and {whc}");
    }
    // Landsat band files (skipped as siblings of the STAC items) go with their SR item (whose row is
    // reported under the item's self link, its object hashed under the listed file).
    let bands: Vec<(&String, &usize)> = owner
        .iter()
        .filter(|(u, _)| u.ends_with("_SR_B4.TIF"))
        .collect();
    assert!(!bands.is_empty());
    for (uri, shard) in bands {
        let id = uri.rsplit('/').next().unwrap().replace("_SR_B4.TIF", "_SR");
        let item = owner
            .iter()
            .find(|(u, _)| u.ends_with(&format!("/items/{id}")));
        assert_eq!(item.map(|i| i.1), Some(shard), "{uri} and its item {id}");
    }

    // Re-running the shards reads nothing again: each shard's checkpoints are its own objects.
    let again = ok(etlake(
        &sharded,
        &["index", src, "--href-rewrite", &rewrite, "--shard", "1/4"],
    ));
    assert!(
        !again.contains(" indexed") && again.contains("not read again"),
        "{again}"
    );
    assert_eq!(left_to_others(&again), left_to_others(&texts[1]), "{again}");
}

#[test]
fn invalid_shards_are_refused_before_anything_is_read() {
    let pg = Cluster::start();
    ok(etlake(&pg.url, &["db", "init"]));
    let lake = tempdir();
    for (args, vars, says) in [
        (
            vec!["--shard", "4/4"],
            vec![],
            "shard index 4 is not below the shard count 4",
        ),
        (vec!["--shard", "a/4"], vec![], "not a whole number"),
        (vec!["--shard", "2"], vec![], "needs the number of shards"),
        (vec!["--shard-count", "4"], vec![], "no shard index"),
        (
            vec![],
            vec![("AWS_BATCH_JOB_ARRAY_INDEX", "1")],
            "AWS_BATCH_JOB_ARRAY_SIZE",
        ),
        (
            vec!["--shard-count", "3"],
            vec![("JOB_COMPLETION_INDEX", "3")],
            "not below the shard count 3",
        ),
    ] {
        let mut a = vec!["index", lake.path().to_str().unwrap()];
        a.extend(args.iter().copied());
        let out = etlake_with(&pg.url, &vars, &a);
        let t = text(&out);
        // A usage error, as clap's own (exit 2, with the hint).
        assert_eq!(out.status.code(), Some(2), "{args:?} {vars:?}:\n{t}");
        assert!(
            t.contains(says) && t.contains("--shard") && t.contains("--help"),
            "{args:?} {vars:?}:\n{t}"
        );
        assert_eq!(
            rows(&pg.url, "SELECT count(*)::text FROM etlake.index_run"),
            ["0"],
            "no run started"
        );
    }
}

#[test]
fn four_shards_over_s3_index_what_one_run_indexes() {
    let pg = cluster_with_products();
    let s3 = S3Server::start(false);
    let lake = tempdir();
    sample_lake::lake::write(lake.path(), 6).unwrap();
    std::fs::write(lake.path().join("README.txt"), "not data").unwrap();
    // The raster part of the lake (the Landsat items' hrefs name USGS's bucket, not this one).
    let mut uploads = Vec::new();
    let mut dirs = vec![lake.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let key = p.strip_prefix(lake.path()).unwrap().display().to_string();
            if p.is_dir() {
                if key != "collection02" {
                    dirs.push(p);
                }
            } else {
                uploads.push((key, p));
            }
        }
    }
    s3.upload("lake", &uploads);
    let creds = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let args: Vec<String> = ["index", "s3://lake/", "--endpoint-url", &s3.endpoint]
        .map(String::from)
        .to_vec();
    let Sharded { owner, .. } = single_and_four_shards(&pg, &args, &creds);
    assert_eq!(owner.len(), uploads.len(), "{owner:?}");
    let soil: Vec<(&String, &usize)> = owner.iter().filter(|(u, _)| u.contains("/soil/")).collect();
    assert_eq!(soil.len(), 3, "{soil:?}");
    assert!(soil.iter().all(|(_, s)| *s == soil[0].1), "{soil:?}");
}

#[test]
fn the_backfill_examples_run_as_their_platforms_start_them() {
    let pg = cluster_with_products();
    let lake = tempdir();
    let (size, gt) = CHIRPS_GRID;
    for day in 1..=8 {
        let p = lake
            .path()
            .join(format!("chirps-v2.0.2023.01.{day:02}.tif"));
        write_geotiff::<f32>(&p, size, gt, -9999.0, &[&|_, _| 1.0]);
    }
    let src = lake.path().to_str().unwrap();
    let yaml = |name: &str| -> serde_yaml_ng::Value {
        let p = workspace().join("examples/backfill").join(name);
        serde_yaml_ng::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    // The command of each example with its S3 prefix replaced by the local lake, as a dry run, in the
    // environment its platform gives child 3 of 8.
    let command = |v: &serde_yaml_ng::Value| -> Vec<String> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .map(|a| {
                if a.starts_with("s3://") {
                    src.to_string()
                } else {
                    a
                }
            })
            .chain(["--dry-run".to_string()])
            .collect()
    };
    let k8s = yaml("k8s-indexed-job.yaml");
    let count = k8s["spec"]["completions"].as_u64().unwrap().to_string();
    let pod = &k8s["spec"]["template"]["spec"]["containers"][0];
    let batch = yaml("aws-batch-array-job.yaml");
    for (args, vars) in [
        (command(&pod["args"]), vec![("JOB_COMPLETION_INDEX", "3")]),
        (
            command(&batch["containerProperties"]["command"]),
            vec![
                ("AWS_BATCH_JOB_ARRAY_INDEX", "3"),
                ("AWS_BATCH_JOB_ARRAY_SIZE", count.as_str()),
            ],
        ),
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let t = ok(etlake_with(&pg.url, &vars, &a));
        assert!(t.contains("(shard 3/8)"), "{args:?}:\n{t}");
        // The report rows (on stdout) are this shard's objects only.
        let taken = t.lines().filter(|l| l.starts_with("{\"uri\"")).count();
        assert_eq!(taken + left_to_others(&t), 8, "{t}");
    }
}
