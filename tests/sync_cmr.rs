//! `etlake sync modis|imerg` against loopback imitations of NASA's Earthdata services
//! (tests/cmr_support): granules found through a CMR granule search paged by `CMR-Search-After`,
//! downloaded through the Earthdata Login redirect flow (DAAC → URS with the credential → DAAC
//! cookie → presigned store URL that refuses any `Authorization`), verified against the UMM-G
//! checksums (MD5, SHA-256, SHA-512), placed in the DAACs' layouts (a folder, or the loopback S3
//! bucket), and indexed by `etlake index`.
//! MODIS bodies are genuine HDF-EOS2 MOD13Q1 tiles (sample-lake's writer, as tests/index_modis.rs).
mod cmr_support;
mod common;
use cmr_support::Earthdata;
use common::*;
use sample_lake::hdfeos::GridWriter;
use std::path::Path;

const GRID: &str = "MODIS_Grid_16DAY_250m_500m_VI";
const N: usize = 48;

/// A MOD13Q1-shaped tile at coarse resolution: every SDS of the product with its real name and type.
fn mod13q1(path: &Path, h: u32, v: u32) -> Vec<u8> {
    let mut w = GridWriter::modis_tile(path, GRID, h, v, N, N).unwrap();
    w.packing("250m 16 days NDVI", 10000.0, 0.0);
    let ndvi: Vec<i16> = (0..N * N).map(|i| (i % 10000) as i16).collect();
    w.field("250m 16 days NDVI", -3000i16, &ndvi).unwrap();
    w.field("250m 16 days EVI", -3000i16, &vec![1500i16; N * N])
        .unwrap();
    w.field("250m 16 days VI Quality", 65535u16, &vec![2116u16; N * N])
        .unwrap();
    w.field("250m 16 days pixel reliability", -1i8, &vec![0i8; N * N])
        .unwrap();
    w.field(
        "250m 16 days composite day of the year",
        -1i16,
        &vec![165i16; N * N],
    )
    .unwrap();
    for sds in [
        "250m 16 days red reflectance",
        "250m 16 days NIR reflectance",
        "250m 16 days blue reflectance",
        "250m 16 days MIR reflectance",
    ] {
        w.field(sds, -1000i16, &vec![800i16; N * N]).unwrap();
    }
    for (sds, fill) in [
        ("250m 16 days view zenith angle", -10000i16),
        ("250m 16 days sun zenith angle", -10000),
        ("250m 16 days relative azimuth angle", -4000),
    ] {
        w.field(sds, fill, &vec![1500i16; N * N]).unwrap();
    }
    w.finish().unwrap();
    std::fs::read(path).unwrap()
}

/// `md5sum`/`sha256sum` of bytes (coreutils), lower-case hex.
fn digest(tool: &str, bytes: &[u8], dir: &Path) -> String {
    let p = dir.join("digest-input");
    std::fs::write(&p, bytes).unwrap();
    let out = std::process::Command::new(tool).arg(&p).output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn report_rows(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn events<'a>(rows: &'a [serde_json::Value], event: &str) -> Vec<&'a serde_json::Value> {
    rows.iter().filter(|r| r["event"] == event).collect()
}

const USER: &str = "tester";
const PASSWORD: &str = "pa55-W0rd-n0t-in-l0gs";

#[test]
fn modis_through_cmr_and_earthdata_login_is_verified_placed_and_indexed() {
    use std::os::unix::fs::PermissionsExt;
    let pg = cluster_with_products();
    let work = tempdir();
    let basic = format!(
        "Basic {}",
        lake_sync::edl::base64(format!("{USER}:{PASSWORD}").as_bytes())
    );
    let ed = Earthdata::start(basic);
    let g1 = "MOD13Q1.A2023161.h09v05.061.2023177233537";
    let g2 = "MOD13Q1.A2023177.h09v05.061.2023193233537";
    let t1 = mod13q1(&work.path().join("t1.hdf"), 9, 5);
    let t2 = mod13q1(&work.path().join("t2.hdf"), 9, 5);
    let xml = b"<?xml version=\"1.0\"?><GranuleMetaDataFile/>".to_vec();
    // LP DAAC's cloud layout: lp-prod-protected/{ESDT}.{CCC}/{GranuleUR}/{file} (data-families.md §2.2).
    let md5 = digest("md5sum", &t1, work.path());
    let sha = digest("sha256sum", &t2, work.path());
    ed.granule(
        ("MOD13Q1", "061"),
        g1,
        "2023-06-10T00:00:00.000Z",
        &format!("lp-prod-protected/MOD13Q1.061/{g1}"),
        &[
            (
                &format!("{g1}.hdf"),
                t1.clone(),
                Some(("MD5", md5.to_uppercase())),
            ),
            (&format!("{g1}.hdf.xml"), xml.clone(), None),
        ],
    );
    ed.granule(
        ("MOD13Q1", "061"),
        g2,
        "2023-06-26T00:00:00.000Z",
        &format!("lp-prod-protected/MOD13Q1.061/{g2}"),
        &[(&format!("{g2}.hdf"), t2.clone(), Some(("SHA-256", sha)))],
    );
    let netrc = work.path().join("netrc");
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login {USER} password {PASSWORD}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let lake = work.path().join("lake");
    let report = work.path().join("sync.jsonl");
    let sync = || {
        etlake_with(
            &pg.url,
            &[
                ("ETLAKE_CMR_URL", ed.cmr.as_str()),
                ("ETLAKE_EDL_URL", ed.urs.as_str()),
                ("NETRC", netrc.to_str().unwrap()),
            ],
            &[
                "sync",
                "modis",
                "--time",
                "2023-06-01/2023-06-30",
                "--bbox",
                "-100,30,-90,40",
                "--page-size",
                "1",
                "--to",
                lake.to_str().unwrap(),
                "--report",
                report.to_str().unwrap(),
                "--index",
            ],
        )
    };
    let out = sync();
    let t = ok(out);
    assert!(t.contains("3 downloaded"), "{t}");
    // CMR: two pages (page_size 1), the second asked for with the first's CMR-Search-After.
    let pages = ed.hits("cmr");
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[0].search_after, None);
    assert_eq!(pages[1].search_after.as_deref(), Some("[\"g\",1]"));
    // The credential went to URS only: never to the DAAC nor to the presigned store.
    let urs = ed.hits("urs");
    assert!(
        !urs.is_empty() && urs.iter().all(|h| h.authorization.is_some()),
        "{urs:?}"
    );
    for server in ["daac", "store", "cmr"] {
        let h = ed.hits(server);
        assert!(
            h.iter().all(|h| h.authorization.is_none()),
            "{server}: {h:?}"
        );
    }
    assert_eq!(ed.hits("store").len(), 3);
    // The DAACs' layout, with the bytes published.
    let dir = |g: &str| lake.join(format!("MOD13Q1.061/{g}"));
    assert_eq!(
        std::fs::read(dir(g1).join(format!("{g1}.hdf"))).unwrap(),
        t1
    );
    assert_eq!(
        std::fs::read(dir(g1).join(format!("{g1}.hdf.xml"))).unwrap(),
        xml
    );
    assert_eq!(
        std::fs::read(dir(g2).join(format!("{g2}.hdf"))).unwrap(),
        t2
    );
    let rows = report_rows(&report);
    let how: Vec<&str> = events(&rows, "verified")
        .iter()
        .map(|r| r["verified"].as_str().unwrap_or_default())
        .collect();
    assert!(
        how.contains(&"md5") && how.contains(&"sha256") && how.contains(&"size"),
        "{rows:?}"
    );
    // Indexed by etlake: both tiles, as mod13q1_061.
    assert_eq!(events(&rows, "indexed").len(), 2, "{rows:?}");
    assert_eq!(
        common::rows(&pg.url, "SELECT p.name, count(*)::text FROM agdc.dataset d JOIN agdc.dataset_type p ON p.id = d.dataset_type_ref WHERE d.archived IS NULL GROUP BY 1"),
        ["mod13q1_061 | 2"]
    );
    // Secrets: not in the report nor in the output.
    let all = std::fs::read_to_string(&report).unwrap() + &t;
    assert!(
        !all.contains(PASSWORD) && !all.contains("X-Amz-Signature") && !all.contains("c0de"),
        "{all}"
    );

    // Again with nothing changed: nothing downloaded, no body read.
    ed.clear_log();
    let t = ok(sync());
    assert!(t.contains("3 skipped") && !t.contains("downloaded"), "{t}");
    assert!(ed.hits("store").is_empty() && ed.hits("daac").is_empty());
}

#[test]
fn imerg_with_a_token_and_a_wrong_checksum() {
    let work = tempdir();
    let ed = Earthdata::start("Bearer t0ken-s3cret".into());
    // GES DISC's layout: data/GPM_L3/GPM_3IMERGDF.07/{YYYY}/{MM}/… (data-families.md §3.4).
    let name = |d: u32| format!("3B-DAY.MS.MRG.3IMERG.202401{d:02}-S000000-E235959.V07B.nc4");
    let good = b"imerg day one".to_vec();
    let bad = b"imerg day two".to_vec();
    let good_sha = digest("sha256sum", &good, work.path());
    for (d, body, sum) in [(1, good.clone(), good_sha), (2, bad, "0".repeat(64))] {
        ed.granule(
            ("GPM_3IMERGDF", "07"),
            &format!("GPM_3IMERGDF.07:{}", name(d)),
            &format!("2024-01-{d:02}T00:00:00.000Z"),
            "data/GPM_L3/GPM_3IMERGDF.07/2024/01",
            &[(&name(d), body, Some(("SHA-256", sum)))],
        );
    }
    let lake = work.path().join("lake");
    let report = work.path().join("sync.jsonl");
    let run = |token: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_etlake"));
        cmd.env("HOME", work.path())
            .env("ETLAKE_EDL_URL", &ed.urs)
            .env("EARTHDATA_TOKEN", token)
            .env_remove("EARTHDATA_USERNAME")
            .env_remove("NETRC")
            .args(["sync", "imerg", "--time", "2024-01-01/2024-01-02", "--to"])
            .arg(&lake)
            .args(["--cmr-url", &ed.cmr, "--report"])
            .arg(&report)
            .output()
            .unwrap()
    };
    // A token URS refuses: both files fail with a message naming the cause, not the token.
    let out = run("wr0ng-t0ken");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("Earthdata Login refused an Earthdata Login token"),
        "{t}"
    );
    assert!(!t.contains("wr0ng-t0ken"), "{t}");
    // The right token: day 1 verified by SHA-256 and placed; day 2's checksum is wrong: failed,
    // not placed, exit 1.
    let out = run("t0ken-s3cret");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("1 downloaded") && t.contains("1 failed"), "{t}");
    assert!(
        t.contains(&name(2)) && t.contains("SHA-256 checksum mismatch"),
        "{t}"
    );
    let placed = lake.join("GPM_L3/GPM_3IMERGDF.07/2024/01");
    assert_eq!(std::fs::read(placed.join(name(1))).unwrap(), good);
    assert!(!placed.join(name(2)).exists());
    assert!(!placed.join(format!("{}.partial", name(2))).exists());
    let rows = report_rows(&report);
    assert!(
        events(&rows, "verified")
            .iter()
            .any(|r| r["verified"] == "sha256"),
        "{rows:?}"
    );
    let all = std::fs::read_to_string(&report).unwrap() + &t;
    assert!(!all.contains("t0ken-s3cret"), "{all}");
    // The token went to the DAAC's data URLs (validated there: no URS round trip once right) and
    // never to the presigned store nor to CMR.
    let daac = ed.hits("daac");
    assert!(
        daac.iter()
            .any(|h| h.authorization.as_deref() == Some("Bearer t0ken-s3cret")),
        "{daac:?}"
    );
    for server in ["store", "cmr"] {
        assert!(
            ed.hits(server).iter().all(|h| h.authorization.is_none()),
            "{server}"
        );
    }
}

#[test]
fn modis_into_the_loopback_s3_bucket_is_indexed_there() {
    let pg = cluster_with_products();
    let work = tempdir();
    let s3 = S3Server::start(false);
    s3.upload("lake", &[]);
    let ed = Earthdata::start("Bearer t0k".into());
    let g = "MOD13Q1.A2023161.h09v05.061.2023177233537";
    let tile = mod13q1(&work.path().join("t.hdf"), 9, 5);
    let sha512 = digest("sha512sum", &tile, work.path());
    ed.granule(
        ("MOD13Q1", "061"),
        g,
        "2023-06-10T00:00:00.000Z",
        &format!("lp-prod-protected/MOD13Q1.061/{g}"),
        &[(&format!("{g}.hdf"), tile, Some(("SHA-512", sha512)))],
    );
    let staging = work.path().join("staging");
    let run = || {
        etlake_with(
            &pg.url,
            &[
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", s3.endpoint.as_str()),
                ("ETLAKE_CMR_URL", ed.cmr.as_str()),
                ("ETLAKE_EDL_URL", ed.urs.as_str()),
                ("EARTHDATA_TOKEN", "t0k"),
            ],
            &[
                "sync",
                "modis",
                "--short-name",
                "MOD13Q1",
                "--collection-version",
                "061",
                "--time",
                "2023-06-01/2023-06-15",
                "--to",
                "s3://lake/modis",
                "--staging",
                staging.to_str().unwrap(),
                "--index",
            ],
        )
    };
    let t = ok(run());
    assert!(t.contains("1 downloaded"), "{t}");
    assert_eq!(
        common::rows(
            &pg.url,
            "SELECT uri_scheme || ':' || uri_body FROM agdc.dataset_location"
        ),
        [format!("s3://lake/modis/MOD13Q1.061/{g}/{g}.hdf")]
    );
    assert!(ed.hits("store").iter().all(|h| h.authorization.is_none()));
    // Unchanged: skipped (the object's size matches CMR's), no body read.
    ed.clear_log();
    let t = ok(run());
    assert!(t.contains("1 skipped"), "{t}");
    assert!(ed.hits("store").is_empty());
}

#[test]
fn direct_s3_reads_with_s3credentials_renewed_before_they_expire() {
    let work = tempdir();
    let s3 = S3Server::start(false);
    let ed = Earthdata::start("Bearer t0k".into());
    // Credentials valid two minutes: inside the five-minute margin, so renewed for the second file.
    ed.state.lock().unwrap().cred_lifetime = 120;
    let mut uploads = Vec::new();
    for (i, g) in [
        "MOD13Q1.A2023161.h09v05.061.2023177233537",
        "MOD13Q1.A2023177.h09v05.061.2023193233537",
    ]
    .iter()
    .enumerate()
    {
        let body = format!("granule {i} bytes").into_bytes();
        let md5 = digest("md5sum", &body, work.path());
        let dir = format!("lp-prod-protected/MOD13Q1.061/{g}");
        let p = work.path().join(format!("{g}.hdf"));
        std::fs::write(&p, &body).unwrap();
        uploads.push((format!("{dir}/{g}.hdf"), p));
        ed.granule(
            ("MOD13Q1", "061"),
            g,
            "2023-06-10T00:00:00.000Z",
            &dir,
            &[(&format!("{g}.hdf"), body, Some(("MD5", md5)))],
        );
    }
    // The DAAC's bucket (UMM-G "GET DATA VIA DIRECT ACCESS": s3://bucket/{dir}/{file}).
    s3.upload("bucket", &uploads);
    let lake = work.path().join("lake");
    let report = work.path().join("r.jsonl");
    let out = etlake_env(
        work.path(),
        &[
            ("ETLAKE_CMR_URL", ed.cmr.as_str()),
            ("ETLAKE_EDL_URL", ed.urs.as_str()),
            ("EARTHDATA_TOKEN", "t0k"),
        ],
        &[
            "sync",
            "modis",
            "--time",
            "2023-06",
            "--to",
            lake.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "--direct-s3",
            "--s3credentials-url",
            &format!("{}/s3credentials", ed.daac),
            "--direct-endpoint-url",
            &s3.endpoint,
            "--direct-region",
            "us-east-1",
            "--connections-per-host",
            "1",
        ],
    );
    let t = ok(out);
    assert!(t.contains("2 downloaded"), "{t}");
    // Read from S3, not over HTTPS; credentials fetched twice (renewed before expiry).
    assert!(ed.hits("store").is_empty());
    let daac = ed.hits("daac");
    assert!(daac.iter().all(|h| h.path == "/s3credentials"), "{daac:?}");
    assert_eq!(daac.len(), 2, "{daac:?}");
    let rows = report_rows(&report);
    assert_eq!(
        events(&rows, "verified")
            .iter()
            .filter(|r| r["verified"] == "md5")
            .count(),
        2,
        "{rows:?}"
    );
    assert!(lake
        .join("MOD13Q1.061/MOD13Q1.A2023161.h09v05.061.2023177233537/MOD13Q1.A2023161.h09v05.061.2023177233537.hdf")
        .is_file());
    let all = std::fs::read_to_string(&report).unwrap() + &t;
    for secret in ["t0k\"", "s3cr3t-access-key", "s3ss10n-t0ken"] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
}
