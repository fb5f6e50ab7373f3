//! `etlake index --sqs` against moto's S3, SQS and SNS on loopback, with real bucket notifications: a PUT
//! or DELETE produces the message S3 sends (straight to SQS, or through SNS in its envelope and with raw
//! message delivery). Keys with spaces and `+` arrive form-encoded and are indexed under their real
//! names; a broken object's message fails, is received again and ends in the dead-letter queue
//! (`maxReceiveCount` 2); a DELETE archives the dataset located there unless it has another location;
//! a message that is a STAC item is indexed as its document; SIGKILL in the middle of a batch leaves its
//! messages on the queue, and the next run indexes them once.
//!
//! Message formats: S3 event message structure
//! (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html), SNS
//! notification JSON (https://docs.aws.amazon.com/sns/latest/dg/sns-message-and-json-formats.html) —
//! here produced by moto itself, not written by the test.
mod common;
use common::*;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const CREDS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

fn moto_venv() -> PathBuf {
    std::env::var("ETLAKE_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace().join(".venv-moto"))
}

/// Runs Python (boto3 from the moto venv) with `s3`, `sqs` and `sns` clients of the server bound;
/// returns its stdout.
fn py(endpoint: &str, code: &str) -> String {
    let prelude = format!(
        "import boto3, json, time\n\
         kw = dict(endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         s3 = boto3.client('s3', **kw)\nsqs = boto3.client('sqs', **kw)\nsns = boto3.client('sns', **kw)\n"
    );
    let out = Command::new(moto_venv().join("bin/python"))
        .arg("-c")
        .arg(format!("{prelude}{code}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "python failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Creates a queue (with a dead-letter queue when `dlq` names one) and returns its URL.
fn queue(endpoint: &str, name: &str, dlq: Option<&str>) -> String {
    let redrive = match dlq {
        Some(d) => format!(
            "arn = sqs.get_queue_attributes(QueueUrl=sqs.create_queue(QueueName='{d}')['QueueUrl'], AttributeNames=['QueueArn'])['Attributes']['QueueArn']\n\
             attrs = {{'RedrivePolicy': json.dumps({{'deadLetterTargetArn': arn, 'maxReceiveCount': '2'}})}}\n"
        ),
        None => "attrs = {}\n".into(),
    };
    py(
        endpoint,
        &format!(
            "{redrive}print(sqs.create_queue(QueueName='{name}', Attributes=attrs)['QueueUrl'])"
        ),
    )
}

fn queue_arn(endpoint: &str, url: &str) -> String {
    py(
        endpoint,
        &format!("print(sqs.get_queue_attributes(QueueUrl='{url}', AttributeNames=['QueueArn'])['Attributes']['QueueArn'])"),
    )
}

/// PUTs local files into the bucket (each PUT sends its notification).
fn put(endpoint: &str, bucket: &str, files: &[(String, PathBuf)]) {
    let pairs: Vec<String> = files
        .iter()
        .map(|(k, p)| format!("({k:?}, {:?})", p.display().to_string()))
        .collect();
    py(
        endpoint,
        &format!(
            "for k, p in [{}]:\n    s3.put_object(Bucket='{bucket}', Key=k, Body=open(p, 'rb').read())",
            pairs.join(", ")
        ),
    );
}

fn chirps(dir: &Path, day: u32) -> PathBuf {
    let p = dir.join(format!("chirps-v2.0.2023.01.{day:02}.tif"));
    let (size, gt) = CHIRPS_GRID;
    write_geotiff::<f32>(&p, size, gt, -9999.0, &[&|_, _| day as f32]);
    p
}

fn key(folder: &str, day: u32) -> String {
    format!("{folder}/CHIRPS-2.0/global_daily/tifs/p05/2023/chirps-v2.0.2023.01.{day:02}.tif")
}

fn sqs_run(pg: &Cluster, s3: &str, queue: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "index",
        "--sqs",
        queue,
        "--drain",
        "--wait-time",
        "1",
        "--visibility-timeout",
        "4",
        "--endpoint-url",
        s3,
    ];
    args.extend_from_slice(extra);
    etlake_with(&pg.url, &CREDS, &args)
}

/// The number in `… N received …` of a run's summary.
fn received(t: &str) -> usize {
    let line = t.lines().find(|l| l.contains("messages: ")).unwrap_or("");
    line.split("messages: ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no message count in {t}"))
}

/// A log line without its terminal colour codes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn count(pg: &Cluster, sql: &str) -> String {
    rows(&pg.url, sql).join(",")
}

#[test]
fn sqs_notifications_index_archive_and_dead_letter() {
    let pg = cluster_with_products();
    let server = S3Server::start(false);
    let ep = server.endpoint.as_str();
    let files = tempdir();

    // lake → SQS directly (with a DLQ); lake-sns → an SNS topic → one queue in the envelope and one with
    // raw message delivery.
    let direct = queue(ep, "events", Some("events-dlq"));
    let dlq = py(
        ep,
        "print(sqs.get_queue_url(QueueName='events-dlq')['QueueUrl'])",
    );
    let enveloped = queue(ep, "sns-events", None);
    let raw = queue(ep, "sns-raw", None);
    let (direct_arn, env_arn, raw_arn) = (
        queue_arn(ep, &direct),
        queue_arn(ep, &enveloped),
        queue_arn(ep, &raw),
    );
    py(
        ep,
        &format!(
            "s3.create_bucket(Bucket='lake')\ns3.create_bucket(Bucket='lake-sns')\n\
             s3.put_bucket_notification_configuration(Bucket='lake', NotificationConfiguration={{'QueueConfigurations': [\
               {{'QueueArn': '{direct_arn}', 'Events': ['s3:ObjectCreated:*', 's3:ObjectRemoved:*']}}]}})\n\
             topic = sns.create_topic(Name='deliveries')['TopicArn']\n\
             sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint='{env_arn}')\n\
             sns.subscribe(TopicArn=topic, Protocol='sqs', Endpoint='{raw_arn}', Attributes={{'RawMessageDelivery': 'true'}})\n\
             s3.put_bucket_notification_configuration(Bucket='lake-sns', NotificationConfiguration={{'TopicConfigurations': [\
               {{'TopicArn': topic, 'Events': ['s3:ObjectCreated:*']}}]}})\n"
        ),
    );

    // Three good tiles (one under a folder whose name S3 form-encodes), a broken one, a stray file.
    let odd = "deliveries 2023+new (v1)";
    let mut puts = vec![
        (key("a", 1), chirps(files.path(), 1)),
        (key("a", 2), chirps(files.path(), 2)),
        (key(odd, 3), chirps(files.path(), 3)),
    ];
    let broken = files.path().join("broken.tif");
    std::fs::write(&broken, b"II*\0 this is not a GeoTIFF").unwrap();
    puts.push((key("a", 9), broken.clone()));
    puts.push(("a/README.txt".into(), broken));
    put(ep, "lake", &puts);

    let report = files.path().join("report.jsonl");
    let report_arg = report.display().to_string();
    let out = sqs_run(&pg, ep, &direct, &["--report", &report_arg]);
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed message fails the run: {t}"
    );
    assert!(t.contains("3 indexed"), "{t}");
    assert!(t.contains("1 skipped"), "{t}");
    assert!(t.contains("s3:TestEvent"), "the test event is ignored: {t}");
    assert!(t.contains("1 left on the queue (failed)"), "{t}");
    let bad_uri = format!("s3://lake/{}", key("a", 9));
    assert!(
        t.lines()
            .any(|l| l.contains("message ") && l.contains(&bad_uri)),
        "the failure names the message and the object: {t}"
    );
    let lines = std::fs::read_to_string(&report).unwrap();
    assert!(
        lines
            .lines()
            .any(|l| l.contains("\"message\"") && l.contains(&bad_uri)),
        "{lines}"
    );
    assert!(lines.lines().any(|l| l.contains("\"indexed\"")), "{lines}");
    // The key as S3 holds it, not as the notification encodes it.
    assert_eq!(
        count(
            &pg,
            &format!(
                "SELECT count(*)::text FROM agdc.dataset_location WHERE uri_body = '//lake/{}'",
                key(odd, 3)
            )
        ),
        "1"
    );
    assert_eq!(count(&pg, "SELECT count(*)::text FROM agdc.dataset"), "3");

    // The broken object's message comes back (the good ones were deleted) and fails again; at its
    // third receive moto moves it to the dead-letter queue.
    std::thread::sleep(std::time::Duration::from_millis(4500));
    let t = text(&sqs_run(&pg, ep, &direct, &[]));
    assert_eq!(
        received(&t),
        1,
        "only the failed message is delivered again: {t}"
    );
    assert!(t.contains("1 left on the queue"), "{t}");
    std::thread::sleep(std::time::Duration::from_millis(4500));
    let t = ok(sqs_run(&pg, ep, &direct, &[]));
    assert_eq!(received(&t), 0, "{t}");
    let dead = py(
        ep,
        &format!("print(json.dumps([m['Body'] for m in sqs.receive_message(QueueUrl='{dlq}', MaxNumberOfMessages=10).get('Messages', [])]))"),
    );
    let dead: Vec<String> = serde_json::from_str(&dead).unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].contains("chirps-v2.0.2023.01.09.tif"), "{dead:?}");

    // Through SNS: the envelope, then the same objects again with raw message delivery (unchanged).
    put(
        ep,
        "lake-sns",
        &[
            (key("b", 10), chirps(files.path(), 10)),
            (key("b", 11), chirps(files.path(), 11)),
        ],
    );
    // sqs-to-dc's other mode: a STAC item published as the message itself, located by its self link.
    // The benchmark item carries three bands; the shipped product has the Collection 2 Level-2 SR
    // set (file suffixes from the Landsat 8-9 C2 L2 Data Format Control Book, LSDS-1619).
    let (item_key, mut item) = sample_lake::landsat::bench_item(0, "s3://usgs-landsat");
    let red = item["assets"]["red"].clone();
    let id = item["id"].as_str().unwrap().to_string();
    for (band, suffix) in [
        ("coastal", "SR_B1"),
        ("blue", "SR_B2"),
        ("green", "SR_B3"),
        ("swir16", "SR_B6"),
        ("swir22", "SR_B7"),
        ("qa_radsat", "QA_RADSAT"),
        ("qa_aerosol", "SR_QA_AEROSOL"),
    ] {
        let mut a = red.clone();
        a["href"] = serde_json::json!(format!("{id}_{suffix}.TIF"));
        item["assets"][band] = a;
    }
    let item_path = files.path().join("item.json");
    std::fs::write(&item_path, serde_json::to_vec(&item).unwrap()).unwrap();
    py(
        ep,
        &format!(
            "topic = sns.create_topic(Name='deliveries')['TopicArn']\n\
             sns.publish(TopicArn=topic, Message=open({:?}).read())",
            item_path.display().to_string()
        ),
    );
    let t = ok(sqs_run(&pg, ep, &enveloped, &[]));
    assert!(t.contains("3 indexed"), "{t}");
    assert_eq!(
        count(
            &pg,
            &format!("SELECT count(*)::text FROM agdc.dataset_location WHERE uri_body = '//usgs-landsat/{item_key}'")
        ),
        "1"
    );
    let t = ok(sqs_run(&pg, ep, &raw, &[]));
    assert!(
        t.contains("3 unchanged"),
        "redelivered objects are not indexed twice: {t}"
    );
    assert_eq!(count(&pg, "SELECT count(*)::text FROM agdc.dataset"), "6");

    // DELETE: day 1 has no other location and is archived; day 2 also lives elsewhere and stays.
    let day2 = format!("//lake/{}", key("a", 2));
    rows(
        &pg.url,
        &format!(
            "INSERT INTO agdc.dataset_location (dataset_ref, uri_scheme, uri_body) \
             SELECT dataset_ref, 'https', '//mirror.example/chirps-v2.0.2023.01.02.tif' \
             FROM agdc.dataset_location WHERE uri_body = '{day2}' RETURNING 'added'::text"
        ),
    );
    py(
        ep,
        &format!(
            "s3.delete_object(Bucket='lake', Key='{}')\ns3.delete_object(Bucket='lake', Key='{}')",
            key("a", 1),
            key("a", 2)
        ),
    );
    let t = ok(sqs_run(&pg, ep, &direct, &[]));
    assert!(t.contains("1 archived"), "{t}");
    assert!(t.contains("1 unlocated"), "{t}");
    assert_eq!(
        count(
            &pg,
            "SELECT count(*)::text FROM agdc.dataset WHERE archived IS NULL"
        ),
        "5"
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(*)::text FROM agdc.dataset_location WHERE uri_body LIKE '//lake/a/%'"
        ),
        "0"
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(*)::text FROM agdc.dataset d JOIN agdc.dataset_location l ON l.dataset_ref = d.id \
             WHERE l.uri_scheme = 'https' AND d.archived IS NULL"
        ),
        "1"
    );
    assert_eq!(
        count(
            &pg,
            "SELECT count(*)::text FROM etlake.source_object WHERE uri LIKE 's3://lake/a/%'"
        ),
        "0",
        "the removed objects' checkpoints are gone"
    );
}

#[test]
fn sigkill_in_a_batch_leaves_its_messages_for_the_next_run() {
    let pg = cluster_with_products();
    let server = S3Server::start(false);
    let ep = server.endpoint.as_str();
    let files = tempdir();
    let q = queue(ep, "events", None);
    let arn = queue_arn(ep, &q);
    py(
        ep,
        &format!(
            "s3.create_bucket(Bucket='lake')\n\
             s3.put_bucket_notification_configuration(Bucket='lake', NotificationConfiguration={{'QueueConfigurations': [\
               {{'QueueArn': '{arn}', 'Events': ['s3:ObjectCreated:*']}}]}})\n\
             sqs.purge_queue(QueueUrl='{q}')"
        ),
    );
    let puts: Vec<(String, PathBuf)> = (1..=10)
        .map(|d| (key("k", d), chirps(files.path(), d)))
        .collect();
    put(ep, "lake", &puts);

    let home = tempdir();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_etlake"));
    clean_env(&mut cmd, home.path());
    let mut child = cmd
        .current_dir(home.path())
        .envs(CREDS)
        .env("RUST_LOG", "indexer::sqs=info")
        .args(["--db", &pg.url.python_url(), "index", "--sqs", &q])
        .args(["--visibility-timeout", "3", "--endpoint-url", ep])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut in_hand = 0;
    for l in lines.by_ref() {
        let l = strip_ansi(&l.unwrap());
        if l.contains("batch received") {
            // SIGKILL as soon as the batch is in hand: nothing of it is deleted yet.
            child.kill().unwrap();
            in_hand = l
                .split("messages=")
                .nth(1)
                .and_then(|n| n.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap();
            break;
        }
    }
    let _ = child.wait();
    assert!(in_hand >= 1, "the killed run had received a batch");
    // The killed batch's messages are back after their visibility timeout; the next run takes them and
    // every other one, and each object gives one dataset.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let t = ok(sqs_run(&pg, ep, &q, &[]));
    assert_eq!(
        received(&t),
        10,
        "every message is there, the killed batch's too: {t}"
    );
    assert_eq!(count(&pg, "SELECT count(*)::text FROM agdc.dataset"), "10");
    assert_eq!(
        count(
            &pg,
            "SELECT count(*)::text FROM (SELECT uri_body FROM agdc.dataset_location \
             GROUP BY uri_body HAVING count(*) > 1) d"
        ),
        "0"
    );
}

/// S3 → EventBridge → SQS, routed by moto itself: the bucket's notification configuration turns
/// EventBridge on, an events rule matches the bucket's `Object Created` / `Object Deleted` events and
/// targets the queue. Format: EventBridge event message structure
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html); the key arrives as written
/// (a `+` in it is a plus), and a DELETE archives the dataset located there.
#[test]
fn eventbridge_s3_events_index_and_archive() {
    let pg = cluster_with_products();
    let server = S3Server::start(false);
    let ep = server.endpoint.as_str();
    let files = tempdir();
    let q = queue(ep, "eventbridge", None);
    let arn = queue_arn(ep, &q);
    let body = py(
        ep,
        &format!(
            "events = boto3.client('events', **kw)\n\
             s3.create_bucket(Bucket='lake-eb')\n\
             s3.put_bucket_notification_configuration(Bucket='lake-eb', NotificationConfiguration={{'EventBridgeConfiguration': {{}}}})\n\
             events.put_rule(Name='lake-eb-objects', EventPattern=json.dumps({{'source': ['aws.s3'], \
               'detail-type': ['Object Created', 'Object Deleted'], 'detail': {{'bucket': {{'name': ['lake-eb']}}}}}}))\n\
             events.put_targets(Rule='lake-eb-objects', Targets=[{{'Id': 'queue', 'Arn': '{arn}'}}])\n\
             s3.put_object(Bucket='lake-eb', Key='probe.txt', Body=b'x')\n\
             m = sqs.receive_message(QueueUrl='{q}', WaitTimeSeconds=1)['Messages'][0]\n\
             sqs.delete_message(QueueUrl='{q}', ReceiptHandle=m['ReceiptHandle'])\n\
             print(m['Body'])"
        ),
    );
    // What moto routed is the documented EventBridge event, not an S3 notification.
    let probe: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(probe["source"], "aws.s3", "{body}");
    assert_eq!(probe["detail-type"], "Object Created", "{body}");
    assert_eq!(probe["detail"]["object"]["key"], "probe.txt", "{body}");
    assert!(probe.get("Records").is_none(), "{body}");

    let odd = "eb 2023+new";
    put(
        ep,
        "lake-eb",
        &[
            (key(odd, 1), chirps(files.path(), 1)),
            (key("eb", 2), chirps(files.path(), 2)),
        ],
    );
    let t = ok(sqs_run(&pg, ep, &q, &[]));
    assert!(t.contains("2 indexed"), "{t}");
    assert_eq!(received(&t), 2, "{t}");
    assert_eq!(
        count(
            &pg,
            &format!(
                "SELECT count(*)::text FROM agdc.dataset_location WHERE uri_body = '//lake-eb/{}'",
                key(odd, 1)
            )
        ),
        "1",
        "the key as written, its + kept"
    );
    py(
        ep,
        &format!("s3.delete_object(Bucket='lake-eb', Key='{}')", key(odd, 1)),
    );
    let t = ok(sqs_run(&pg, ep, &q, &[]));
    assert!(t.contains("1 archived"), "{t}");
    assert_eq!(
        count(
            &pg,
            "SELECT count(*)::text FROM agdc.dataset WHERE archived IS NULL"
        ),
        "1"
    );
}
