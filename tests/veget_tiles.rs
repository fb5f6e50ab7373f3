//! `etlake veget run` in tiles on the sample lake: a run cut into many small tiles writes the same
//! bytes as a run in one tile; a run killed with SIGKILL and started again skips its finished tiles
//! and ends with the same outputs; a changed configuration is refused until `--restart`; three
//! processes sharing the tiles (`--tile i/3`) and `veget finish` give the same outputs as one run.
mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const START: &str = "2019-10-20";
const END: &str = "2019-11-06";

fn config(dir: &Path, name: &str, melt_factor: f64) -> PathBuf {
    let text = format!(
        r#"
period: {{start: {START}, end: {END}}}
area: {{bbox: [-105.4, 39.2, -104.8, 39.8]}}
grid: {{like: mod13q1_061}}
params: {{melt_factor: {melt_factor}}}
inputs:
  precipitation: {{product: chirps_v2_daily_p05, measurement: precip}}
  eto: {{product: gridmet_pet}}
  ndvi: {{product: mod13q1_061, measurement: ndvi, align: interpolate}}
  tmin: {{product: gridmet_tmmn}}
  tmax: {{product: gridmet_tmmx}}
  whc: {{product: soil_whc, measurement: whc}}
  field_capacity: {{product: soil_whc, measurement: field_capacity}}
  saturation: {{product: soil_whc, measurement: saturation}}
  interception: {{value: 10}}
  water: {{value: 0}}
output: {{dir: {name}-out, daily: true}}
"#
    );
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// Every output file under `dir` (the run's own folder left out), by relative path, with its bytes.
fn outputs(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.file_name().is_some_and(|n| n == ".veget-run") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn assert_same(a: &Path, b: &Path) {
    let (x, y) = (outputs(a), outputs(b));
    assert_eq!(
        x.keys().collect::<Vec<_>>(),
        y.keys().collect::<Vec<_>>(),
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    assert!(x.len() > 20, "{x:?}", x = x.keys().collect::<Vec<_>>());
    for (k, v) in &x {
        assert!(
            *v == y[k],
            "{} differs between {} and {}",
            k.display(),
            a.display(),
            b.display()
        );
    }
}

fn done_tiles(out: &Path) -> usize {
    std::fs::read_dir(out.join(".veget-run/tiles"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json"))
            })
            .count()
        })
        .unwrap_or(0)
}

fn spawn(pg: &Cluster, home: &Path, vars: &[(&str, &str)], args: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_etlake"));
    clean_env(&mut cmd, home);
    cmd.current_dir(home)
        .envs(vars.iter().copied())
        .arg("--db")
        .arg(pg.url.python_url())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("start etlake")
}

#[test]
fn tiled_runs_resume_and_share_tiles_with_the_outputs_of_one_run() {
    let pg = cluster_with_products();
    let lake = tempdir();
    sample_lake::lake::write(lake.path(), 37).unwrap();
    ok(etlake(&pg.url, &["index", lake.path().to_str().unwrap()]));
    let work = tempdir();
    let w = work.path();
    let arg = |p: &Path| p.to_str().unwrap().to_string();
    let timed = |what: &str, args: &[&str]| {
        let t = Instant::now();
        let o = etlake(&pg.url, args);
        eprintln!("{what}: {:.1} s", t.elapsed().as_secs_f64());
        o
    };

    // One tile (the reference) and tiles of 6 rows (the sample grid is 57 × 30).
    let one = config(w, "one", 0.06);
    let printed = ok(timed(
        "one tile",
        &[
            "veget",
            "run",
            "--no-index",
            "--tile-rows",
            "100000",
            &arg(&one),
        ],
    ));
    assert!(printed.contains("1 tiles of"), "{printed}");
    let small = config(w, "small", 0.06);
    let printed = ok(timed(
        "6-row tiles",
        &[
            "veget",
            "run",
            "--no-index",
            "--tile-rows",
            "6",
            &arg(&small),
        ],
    ));
    let tiles: usize = printed
        .lines()
        .find(|l| l.contains(" tiles of 6 rows"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no tiling line: {printed}"));
    assert!(tiles >= 5, "{printed}");
    assert!(printed.contains(" 0 failed"), "{printed}");
    assert_same(&w.join("one-out"), &w.join("small-out"));
    // Started again: every tile is done, nothing runs, the outputs stay.
    let again = ok(etlake(
        &pg.url,
        &["veget", "run", "--no-index", &arg(&small)],
    ));
    assert!(again.contains(", 0 run now"), "{again}");
    assert_same(&w.join("one-out"), &w.join("small-out"));

    // A changed parameter is refused in the same folder, naming what changed, until --restart.
    let changed = config(w, "small", 0.05);
    let o = etlake(&pg.url, &["veget", "run", "--no-index", &arg(&changed)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("another configuration (params differ)")
            && text(&o).contains("--restart"),
        "{}",
        text(&o)
    );
    ok(etlake(
        &pg.url,
        &[
            "veget",
            "run",
            "--no-index",
            "--restart",
            "--tile-rows",
            "40",
            &arg(&changed),
        ],
    ));
    let state = "state/veget_state_20191106.nc";
    assert_ne!(
        std::fs::read(w.join("one-out").join(state)).unwrap(),
        std::fs::read(w.join("small-out").join(state)).unwrap(),
        "another melt factor, other snowpack"
    );

    // Killed mid-run (SIGKILL, one tile at a time), then started again: only the missing tiles run.
    let killed = config(w, "killed", 0.06);
    let home = tempdir();
    let mut child = spawn(
        &pg,
        home.path(),
        &[("RAYON_NUM_THREADS", "1")],
        &[
            "veget",
            "run",
            "--no-index",
            "--tile-rows",
            "5",
            &arg(&killed),
        ],
    );
    let out = w.join("killed-out");
    let t = Instant::now();
    while done_tiles(&out) < 2 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(t.elapsed() < Duration::from_secs(300), "no tile finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = done_tiles(&out);
    // Not finished: `veget finish` refuses, naming the tiles left.
    let o = etlake(&pg.url, &["veget", "finish", "--no-index", &arg(&killed)]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("tiles are not done (tiles "),
        "{}",
        text(&o)
    );
    let resumed = ok(etlake(
        &pg.url,
        &["veget", "run", "--no-index", &arg(&killed)],
    ));
    let line = resumed
        .lines()
        .find(|l| l.contains(" tiles of 5 rows"))
        .unwrap_or_else(|| panic!("{resumed}"));
    let total: usize = line.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        line.contains(&format!(", {} run now", total - before)),
        "{before} tiles were done before the kill: {line}"
    );
    assert_same(&w.join("one-out"), &out);

    // Three processes sharing the tiles (one with its share from the Indexed Job environment), then
    // `veget finish` once: the outputs of one run, indexed once.
    let shared = config(w, "shared", 0.06);
    let homes: Vec<_> = (0..3).map(|_| tempdir()).collect();
    let children: Vec<_> = (0..3)
        .map(|i| {
            let share = format!("{i}/3");
            let index = i.to_string();
            if i == 0 {
                spawn(
                    &pg,
                    homes[i].path(),
                    &[("JOB_COMPLETION_INDEX", index.as_str())],
                    &[
                        "veget",
                        "run",
                        "--no-index",
                        "--tile-count",
                        "3",
                        "--tile-rows",
                        "8",
                        &arg(&shared),
                    ],
                )
            } else {
                spawn(
                    &pg,
                    homes[i].path(),
                    &[],
                    &[
                        "veget",
                        "run",
                        "--no-index",
                        "--tile",
                        &share,
                        "--tile-rows",
                        "8",
                        &arg(&shared),
                    ],
                )
            }
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        let t = text(&o);
        assert!(o.status.success(), "{t}");
        assert!(t.contains("run `etlake veget finish"), "{t}");
    }
    let finished = ok(etlake(&pg.url, &["veget", "finish", &arg(&shared)]));
    assert!(finished.contains(" 0 failed"), "{finished}");
    assert_same(&w.join("one-out"), &w.join("shared-out"));
    let counts = rows(
        &pg.url,
        "select p.name || '=' || count(*) from agdc.dataset d join agdc.dataset_type p on p.id = d.dataset_type_ref \
         where p.name like 'veget%' and d.archived is null group by p.name order by p.name",
    );
    assert_eq!(
        counts,
        ["veget_annual=1", "veget_daily=18", "veget_monthly=2"]
    );
}
