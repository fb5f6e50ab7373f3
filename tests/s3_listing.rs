//! Listing a wide S3 prefix (moto on loopback): the flat listing that starts at once and the
//! per-directory listings that take over after it together send every key exactly once; whole-object
//! reads of keys that need encoding, and a missing key named in its error.
mod common;
use common::*;
use std::sync::Arc;

#[test]
fn flat_and_fanned_out_listings_send_every_key_once() {
    let s3 = S3Server::start(false);
    // 2,604 keys: more than two pages, several directories, loose keys sorting before, between and
    // after them ("b.txt" < "b/…" < "b0.txt").
    let mut keys: Vec<String> = Vec::new();
    for (dir, n) in [("a", 1200), ("b", 900), ("c/deep/er", 500)] {
        keys.extend((0..n).map(|i| format!("lake/{dir}/{i:05}.json")));
    }
    keys.extend(["lake/0.txt", "lake/b.txt", "lake/b0.txt", "lake/zz.txt"].map(String::from));
    let code = format!(
        "import boto3, concurrent.futures as cf\n\
         s3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         s3.create_bucket(Bucket='wide')\n\
         keys = open(0).read().split()\n\
         with cf.ThreadPoolExecutor(8) as ex:\n    list(ex.map(lambda k: s3.put_object(Bucket='wide', Key=k, Body=b''), keys))\n",
        s3.endpoint
    );
    let venv = std::env::var("ETLAKE_MOTO_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| workspace().join(".venv-moto"));
    let mut child = std::process::Command::new(venv.join("bin/python"))
        .args(["-c", &code])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(keys.join("\n").as_bytes()).unwrap();
    }
    assert!(child.wait().unwrap().success(), "upload failed");

    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    let client = indexer::s3::S3::new(&indexer::s3::S3Options {
        endpoint_url: Some(s3.endpoint.clone()),
        region: Some("us-east-1".into()),
        ..Default::default()
    })
    .unwrap();
    for (prefix, expected) in [
        ("lake/", keys.clone()),
        (
            "lake/b",
            keys.iter()
                .filter(|k| k.starts_with("lake/b"))
                .cloned()
                .collect(),
        ),
    ] {
        let (tx, mut rx) = tokio::sync::mpsc::channel(10_000);
        client
            .list("wide", prefix, Arc::new(|_: &str| true), tx)
            .unwrap();
        let mut got = Vec::new();
        while let Ok(o) = rx.try_recv() {
            got.push(o.unwrap().uri);
        }
        let n = got.len();
        got.sort();
        got.dedup();
        assert_eq!(n, got.len(), "{prefix}: some keys were sent twice");
        let mut want: Vec<String> = expected.iter().map(|k| format!("s3://wide/{k}")).collect();
        want.sort();
        assert_eq!(got, want, "{prefix}: listed keys differ");
    }

    // Whole-object reads (the path metadata documents take), keys with characters that URL paths and
    // request signatures must encode.
    let odd = ["odd/a b+c=d.json", "odd/é/ü~x_y.json", "odd/100%.json"];
    let code = format!(
        "import boto3, sys\n\
         s3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         for k in sys.argv[1:]:\n    s3.put_object(Bucket='wide', Key=k, Body=('body of ' + k).encode())\n",
        s3.endpoint
    );
    let status = std::process::Command::new(venv.join("bin/python"))
        .args(["-c", &code])
        .args(odd)
        .status()
        .unwrap();
    assert!(status.success());
    let fetches = odd
        .iter()
        .map(|k| client.spawn_get(&format!("s3://wide/{k}")))
        .collect();
    for (k, body) in odd.iter().zip(client.wait(fetches)) {
        assert_eq!(body.unwrap(), format!("body of {k}").into_bytes(), "{k}");
    }
    let missing = client.wait(vec![client.spawn_get("s3://wide/odd/missing.json")]);
    let e = missing[0].as_ref().unwrap_err().to_string();
    assert!(
        e.contains("odd/missing.json") && e.contains("NoSuchKey"),
        "{e}"
    );
}
