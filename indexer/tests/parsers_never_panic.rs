//! Property tests: what etlake parses from a lake — filename templates, recognition specs, object keys,
//! metadata documents (YAML/JSON text, eo3, STAC items, Landsat `_MTL.json`), SQS messages (S3 events,
//! SNS envelopes, EventBridge events), S3 Inventory manifests and CSV data files — gives a value or an
//! error for any input, never a panic or a hang. Inputs are random text and structured mutations of
//! valid documents (values replaced by random JSON, keys removed or added). A few hundred cases each,
//! seconds in all. The seed is fixed so runs are repeatable; `PROPTEST_RNG_SEED=N` explores others.
use catalog_schema::{document, eo3, stac_eo3};
use indexer::recognition::Recogniser;
use indexer::template::Template;
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Value};

fn config(cases: u32) -> Config {
    let seeded = std::env::var_os("PROPTEST_RNG_SEED").is_some();
    Config {
        cases,
        rng_seed: if seeded {
            Config::default().rng_seed
        } else {
            proptest::test_runner::RngSeed::Fixed(0x5eed_e71a)
        },
        max_shrink_time: 10_000,
        failure_persistence: None,
        ..Config::default()
    }
}

fn fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---- random JSON and mutations of valid documents ----

/// Keys the parsers look for, so mutations reach their branches.
const KEYS: &[&str] = &[
    "id",
    "crs",
    "grids",
    "default",
    "shape",
    "transform",
    "measurements",
    "properties",
    "datetime",
    "geometry",
    "bbox",
    "assets",
    "href",
    "proj:epsg",
    "proj:shape",
    "proj:transform",
    "proj:code",
    "links",
    "rel",
    "lineage",
    "source_datasets",
    "product",
    "name",
    "type",
    "coordinates",
    "eo:bands",
    "odc:product",
    "collection",
    "path",
    "band",
    "layer",
    "roles",
    "stac_version",
    "start_datetime",
    "end_datetime",
    "odc:processing_datetime",
    "eo:platform",
    "platform",
    "label",
    "location",
    "accessories",
    "common_name",
    "nodata",
    "LANDSAT_METADATA_FILE",
    "PROJECTION_ATTRIBUTES",
    "IMAGE_ATTRIBUTES",
    "UTM_ZONE",
    "REFLECTIVE_LINES",
    "REFLECTIVE_SAMPLES",
    "CORNER_UL_PROJECTION_X_PRODUCT",
    "CORNER_UL_PROJECTION_Y_PRODUCT",
    "GRID_CELL_SIZE_REFLECTIVE",
    "DATE_ACQUIRED",
    "SCENE_CENTER_TIME",
    "templates",
    "time",
    "start",
    "period",
    "per_band",
    "region_code",
    "maturity",
    "maturity_map",
    "suffix",
    "file",
    "optional",
    "scale_factor",
    "add_offset",
    "grid",
    "stac",
    "Records",
    "eventName",
    "s3",
    "bucket",
    "object",
    "key",
    "eTag",
    "size",
    "Type",
    "Message",
    "Event",
    "source",
    "detail-type",
    "detail",
    "etag",
    "$schema",
    "sourceBucket",
    "destinationBucket",
    "fileFormat",
    "fileSchema",
    "files",
    "MD5checksum",
];

fn arb_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        Just(json!(i64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(u64::MAX)),
        (-400i64..400).prop_map(Value::from),
    ]
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,12}",
        Just(String::new()),
        Just("EPSG:4326".to_string()),
        Just("EPSG:32613".to_string()),
        Just("EPSG:999999999".to_string()),
        Just("epsg:".to_string()),
        Just("+proj=sinu +R=6371007.181".to_string()),
        Just("2020-01-01".to_string()),
        Just("2020-13-45T25:61:61Z".to_string()),
        Just("2020-01-01T00:00:00+14:00".to_string()),
        Just("2020-01-01T00:00:00.1234567890123Z".to_string()),
        Just("-0001-01-01T00:00:00Z".to_string()),
        Just("9".repeat(30)),
        Just("NaN".to_string()),
        Just("1e999".to_string()),
        Just("s3://".to_string()),
        Just("../../x".to_string()),
        Just("file:///".to_string()),
        Just("ü".to_string()),
        Just("{".to_string()),
        "[0-9:T. Z+-]{0,30}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((arb_key(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => ".{0,8}",
    ]
}

/// One change at the node numbered `at` (preorder, modulo the node count).
#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
    Insert(usize, String, Value),
    Wrap(usize),
}

fn arb_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), arb_json()).prop_map(|(a, v)| Mutation::Replace(a, v)),
        2 => any::<usize>().prop_map(Mutation::Remove),
        2 => (any::<usize>(), arb_key(), arb_json()).prop_map(|(a, k, v)| Mutation::Insert(a, k, v)),
        1 => any::<usize>().prop_map(Mutation::Wrap),
    ]
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// The node numbered `n` in preorder (`n` < count).
fn node(v: &mut Value, n: usize) -> &mut Value {
    if n == 0 {
        return v;
    }
    let mut rest = n - 1;
    let children: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(o) => o.values_mut().collect(),
        _ => unreachable!("n < count"),
    };
    for c in children {
        let k = count(c);
        if rest < k {
            return node(c, rest);
        }
        rest -= k;
    }
    unreachable!("n < count")
}

fn mutate(mut v: Value, mutations: &[Mutation]) -> Value {
    for m in mutations {
        let n = count(&v);
        match m {
            Mutation::Replace(at, x) => *node(&mut v, at % n) = x.clone(),
            Mutation::Remove(at) => match node(&mut v, at % n) {
                Value::Object(o) if !o.is_empty() => {
                    let k = o.keys().nth(at % o.len()).cloned().unwrap();
                    o.remove(&k);
                }
                Value::Array(a) if !a.is_empty() => {
                    a.remove(at % a.len());
                }
                _ => {}
            },
            Mutation::Insert(at, k, x) => match node(&mut v, at % n) {
                Value::Object(o) => {
                    o.insert(k.clone(), x.clone());
                }
                Value::Array(a) => a.push(x.clone()),
                _ => {}
            },
            Mutation::Wrap(at) => {
                let t = node(&mut v, at % n);
                *t = Value::Array(vec![t.take()]);
            }
        }
    }
    v
}

fn yaml_doc(text: &str) -> Value {
    document::parse_documents("seed.yaml", text)
        .unwrap()
        .remove(0)
        .value
}

fn seeds_eo3() -> Vec<Value> {
    vec![
        yaml_doc(&fixture("precip_20200101.odc-metadata.yaml")),
        yaml_doc(&fixture("multi.odc-metadata.yaml")),
    ]
}

fn seed_stac() -> Value {
    serde_json::from_str(&fixture("bench-landsat-sr-stac-item.example.json")).unwrap()
}

/// A Landsat Collection 2 `_MTL.json` in USGS's layout (values as strings, as USGS writes them; field
/// names from the Landsat 8-9 Collection 2 Level-2 Data Format Control Book, LSDS-1328).
fn seed_mtl() -> Value {
    json!({"LANDSAT_METADATA_FILE": {
        "IMAGE_ATTRIBUTES": {"DATE_ACQUIRED": "2020-06-15", "SCENE_CENTER_TIME": "17:38:21.4457340Z"},
        "PROJECTION_ATTRIBUTES": {
            "UTM_ZONE": "13", "GRID_CELL_SIZE_REFLECTIVE": "30.00",
            "REFLECTIVE_LINES": "7801", "REFLECTIVE_SAMPLES": "7681",
            "CORNER_UL_PROJECTION_X_PRODUCT": "470100.000", "CORNER_UL_PROJECTION_Y_PRODUCT": "4400100.000"
        }
    }})
}

fn canonical(k: &str) -> Option<String> {
    (!k.is_empty() && k.len() < 16 && !k.contains('.')).then(|| k.to_ascii_lowercase())
}

// ---- templates and recognition ----

fn arb_template() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-zA-Z0-9_.-]{1,6}",
        2 => "[a-z]{1,4}".prop_map(|n| format!("{{{n}}}")),
        2 => ("[a-z]{1,4}", 0usize..40).prop_map(|(n, w)| format!("{{{n}:{w}}}")),
        1 => ("[a-z]{1,4}", "[a-z0-9|.*+?()\\[\\]{}^$\\\\-]{0,8}")
            .prop_map(|(n, r)| format!("{{{n}:/{r}/}}")),
        1 => prop::sample::select(vec!["[", "]", "*", "**/", "/", "{", "}", ":", "{:}", "{a:", "{a:/", "/}", "ü", "{a:99999999999}"])
            .prop_map(str::to_string),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

fn arb_key_name() -> impl Strategy<Value = String> {
    let names = vec![
        "chirps-v2.0.2020.01.01.tif",
        "chirps-v2.0.2020.02.30.tif.gz",
        "MOD13Q1.A2020001.h09v05.061.2020018005429.hdf",
        "MOD13Q1.A2020999.h09v05.061.2020018005429.hdf",
        "pr_2020.nc",
        "pr_0000.nc",
        "soil_frontrange_2020_whc.tif",
        "3B-DAY.MS.MRG.3IMERG.20200101-S000000-E235959.V07B.nc4",
        "3B-HHR.MS.MRG.3IMERG.20200101-S233000-E235959.1410.V07B.HDF5",
        "LC08_L2SP_034032_20200615_20200824_02_T1_SR_stac.json",
        "veget_daily_20200101.tif",
    ];
    prop_oneof![
        (
            prop::sample::select(names.clone()),
            "[0-9]{0,3}",
            any::<usize>()
        )
            .prop_map(|(n, ins, at)| {
                // A valid name with digits spliced in (dates and widths that do not fit).
                let cut = n
                    .char_indices()
                    .map(|(i, _)| i)
                    .nth(at % n.len())
                    .unwrap_or(0);
                format!("s3://b/p/{}{ins}{}", &n[..cut], &n[cut..])
            }),
        // Every digit replaced by a random one: the templates still match, the dates they make do not
        // (month 00 or 99, day of year 000, year 0000).
        (
            prop::sample::select(names.clone()),
            prop::collection::vec(0u8..10, 64)
        )
            .prop_map(|(n, d)| {
                let mut i = 0;
                let name: String = n
                    .chars()
                    .map(|c| {
                        if c.is_ascii_digit() {
                            i += 1;
                            char::from(b'0' + d[i % d.len()])
                        } else {
                            c
                        }
                    })
                    .collect();
                format!("/lake/x/{name}")
            }),
        prop::sample::select(names).prop_map(|n| format!("/lake/x/{n}")),
        ".{0,40}",
        "[0-9.a-zA-Z_/-]{0,40}",
    ]
}

fn recognition_seeds() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../product-defs/recognition");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let y: serde_yaml_ng::Value =
                serde_yaml_ng::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::to_value(y).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 10, "recognition specs in {}", dir.display());
    out
}

/// Every shipped recognition spec, loaded once.
fn shipped() -> &'static (Recogniser, indexer::unclaimed::Siblings) {
    static SHIPPED: std::sync::OnceLock<(Recogniser, indexer::unclaimed::Siblings)> =
        std::sync::OnceLock::new();
    SHIPPED.get_or_init(|| {
        let mut r = Recogniser::default();
        for (name, seed) in recognition_seeds() {
            let yaml = serde_yaml_ng::to_string(&seed).unwrap();
            r.add(&format!("recognition/{name}"), &yaml).unwrap();
        }
        let s = indexer::unclaimed::Siblings::of_specs(&r);
        (r, s)
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn templates_compile_or_explain_and_match_any_key(t in arb_template(), keys in prop::collection::vec(arb_key_name(), 1..4)) {
        if let Ok(c) = Template::compile(&t) {
            let _ = (c.field_names(), c.required_literals(), c.extensions(), c.is_literal());
            for k in &keys {
                let _ = c.matches(k);
            }
        }
    }

    #[test]
    fn templates_from_any_text(t in ".{0,40}") {
        if let Ok(c) = Template::compile(&t) {
            let _ = (c.matches(&t), c.extensions());
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn recognition_specs_mutated_load_or_explain_and_recognise_any_key(
        which in any::<usize>(),
        mutations in prop::collection::vec(arb_mutation(), 1..4),
        keys in prop::collection::vec(arb_key_name(), 1..6),
    ) {
        let seeds = recognition_seeds();
        let (name, seed) = &seeds[which % seeds.len()];
        let spec = mutate(seed.clone(), &mutations);
        let yaml = serde_yaml_ng::to_string(&spec).unwrap();
        let mut r = Recogniser::default();
        if r.add(&format!("recognition/{name}"), &yaml).is_ok() {
            let _ = indexer::unclaimed::Siblings::of_specs(&r);
            for k in &keys {
                let _ = r.recognise(k);
            }
        }
    }

    #[test]
    fn every_shipped_spec_recognises_any_key(keys in prop::collection::vec(arb_key_name(), 1..8)) {
        let (r, siblings) = shipped();
        for k in &keys {
            let _ = r.recognise(k);
            let _ = (siblings.of(k), siblings.owner(k));
        }
    }

    #[test]
    fn recognition_specs_from_any_text(text in ".{0,200}") {
        let _ = Recogniser::default().add("recognition/x.yaml", &text);
    }
}

// ---- metadata documents ----

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn document_text_parses_or_explains(text in ".{0,300}", bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = document::parse_documents("x.yaml", &text);
        let _ = document::parse_documents("x.json", &String::from_utf8_lossy(&bytes));
        let _ = document::parse_documents("x.json", &format!("{{{text}"));
        let _ = document::parse_documents("x.yaml", &format!("---\n{text}\n---\n{text}"));
    }

    #[test]
    fn mutated_eo3_documents_prepare_or_explain(which in any::<usize>(), mutations in prop::collection::vec(arb_mutation(), 1..5)) {
        let seeds = seeds_eo3();
        let doc = mutate(seeds[which % seeds.len()].clone(), &mutations);
        let crs = indexer::crs::GdalCrs::new();
        let _ = eo3::prepare(&doc, &crs);
        // The same document through its YAML and JSON text.
        let yaml = serde_yaml_ng::to_string(&doc).unwrap();
        if let Ok(docs) = document::parse_documents("x.yaml", &yaml) {
            for d in docs {
                let _ = eo3::prepare(&d.value, &crs);
            }
        }
    }

    #[test]
    fn mutated_stac_items_convert_or_explain(mutations in prop::collection::vec(arb_mutation(), 1..5)) {
        let mut item = mutate(seed_stac(), &mutations);
        let crs = indexer::crs::GdalCrs::new();
        let _ = (
            stac_eo3::is_stac_item(&item),
            stac_eo3::product_name(&item),
            stac_eo3::dataset_id(&item),
            stac_eo3::self_href(&item),
            stac_eo3::has_grid(&item),
            stac_eo3::has_date_only(&item),
            stac_eo3::mtl_uri(&item, "s3://usgs-landsat/collection02/x/item.json"),
            stac_eo3::mtl_uri(&item, "no-slash"),
        );
        stac_eo3::rewrite_hrefs(&mut item, &[("https://landsatlook.usgs.gov/data/".into(), "s3://usgs-landsat/".into())]);
        stac_eo3::resolve_band_keys(&mut item, &canonical);
        if let Ok(eo3_doc) = stac_eo3::convert(&item, &canonical, &crs) {
            let _ = eo3::prepare(&eo3_doc, &crs);
        }
        let _ = stac_eo3::apply_mtl(&mut item, &seed_mtl());
    }

    #[test]
    fn mtl_fields_of_any_value(fields in prop::collection::vec((0u8..4, prop_oneof![arb_json(), arb_number(), arb_string().prop_map(Value::String)]), 8)) {
        let mut mtl = seed_mtl();
        let names = ["UTM_ZONE", "GRID_CELL_SIZE_REFLECTIVE", "REFLECTIVE_LINES", "REFLECTIVE_SAMPLES",
            "CORNER_UL_PROJECTION_X_PRODUCT", "CORNER_UL_PROJECTION_Y_PRODUCT", "DATE_ACQUIRED", "SCENE_CENTER_TIME"];
        for (i, (name, v)) in names.iter().zip(fields).enumerate() {
            let group = if i < 6 { "PROJECTION_ATTRIBUTES" } else { "IMAGE_ATTRIBUTES" };
            let g = mtl["LANDSAT_METADATA_FILE"][group].as_object_mut().unwrap();
            // Most fields keep their valid value, so the others' checks are reached.
            match v {
                (0, _) => drop(g.remove(*name)),
                (1, v) => drop(g.insert(name.to_string(), v)),
                _ => {}
            };
        }
        let _ = stac_eo3::mtl_datetime(&mtl);
        let mut item = seed_stac();
        if stac_eo3::apply_mtl(&mut item, &mtl).is_ok() {
            let _ = stac_eo3::convert(&item, &canonical, &indexer::crs::GdalCrs::new());
        }
    }

    #[test]
    fn mutated_mtl_documents_apply_or_explain(mutations in prop::collection::vec(arb_mutation(), 1..5)) {
        let mtl = mutate(seed_mtl(), &mutations);
        let _ = stac_eo3::mtl_datetime(&mtl);
        let mut item = seed_stac();
        if stac_eo3::apply_mtl(&mut item, &mtl).is_ok() {
            let _ = stac_eo3::convert(&item, &canonical, &indexer::crs::GdalCrs::new());
        }
    }
}

#[test]
fn the_mutation_helper_reaches_every_node() {
    // Replacing node k of a small document changes exactly that node.
    let doc = json!({"a": [1, {"b": 2}], "c": "x"});
    assert_eq!(count(&doc), 6);
    let seen: Vec<Value> = (0..6)
        .map(|k| mutate(doc.clone(), &[Mutation::Replace(k, json!("Z"))]))
        .collect();
    assert_eq!(seen[0], json!("Z"));
    assert_eq!(seen[1], json!({"a": "Z", "c": "x"}));
    assert_eq!(seen[2], json!({"a": ["Z", {"b": 2}], "c": "x"}));
    assert_eq!(seen[5], json!({"a": [1, {"b": 2}], "c": "Z"}));
    assert_eq!(
        mutate(doc.clone(), &[Mutation::Remove(0)]),
        json!({"c": "x"})
    );
}

/// The panic the MTL properties found: a UTM zone of 1e308 overflowed `32600 + zone`. Out-of-range
/// zones and sizes are errors naming the field.
#[test]
fn a_utm_zone_or_size_out_of_range_is_an_error_naming_it() {
    let mtl = |zone: Value, lines: Value| {
        json!({"LANDSAT_METADATA_FILE": {"PROJECTION_ATTRIBUTES": {
            "UTM_ZONE": zone, "REFLECTIVE_LINES": lines, "REFLECTIVE_SAMPLES": "7681",
            "CORNER_UL_PROJECTION_X_PRODUCT": "470100.0", "CORNER_UL_PROJECTION_Y_PRODUCT": "4400100.0"}}})
    };
    for (zone, lines, says) in [
        (json!("1e308"), json!("7801"), "UTM_ZONE"),
        (json!(-5), json!("7801"), "UTM_ZONE"),
        (json!("13.5"), json!("7801"), "UTM_ZONE"),
        (json!("NaN"), json!("7801"), "UTM_ZONE"),
        (json!("13"), json!("-1"), "REFLECTIVE_LINES"),
        (json!("13"), json!("inf"), "REFLECTIVE_LINES"),
    ] {
        let mut item = json!({"properties": {}});
        let got = stac_eo3::apply_mtl(&mut item, &mtl(zone.clone(), lines.clone()));
        assert!(
            matches!(&got, Err(m) if m.contains(says)),
            "{zone} {lines}: {got:?}"
        );
    }
    let mut item = json!({"properties": {}});
    stac_eo3::apply_mtl(&mut item, &mtl(json!("60"), json!(" 7801 "))).unwrap();
    assert_eq!(item["properties"]["proj:epsg"], 32660);
    assert_eq!(item["properties"]["proj:shape"], json!([7801, 7681]));
}

// ---- SQS messages (S3 event notifications, SNS envelopes, EventBridge) ----

/// An S3 event notification as the S3 documentation shows it (notification-content-structure).
fn seed_s3_event() -> Value {
    json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-west-2",
        "eventTime": "2024-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:X"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "r", "x-amz-id-2": "i"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
               "bucket": {"name": "lake", "ownerIdentity": {"principalId": "A"}, "arn": "arn:aws:s3:::lake"},
               "object": {"key": "CHIRPS-2.0/chirps-v2.0.2023.01.01.tif", "size": 1024, "eTag": "0123", "sequencer": "0A1B"}}
    }]})
}

/// An EventBridge S3 event as the S3 documentation shows it (ev-events).
fn seed_eventbridge() -> Value {
    json!({"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
        "account": "111122223333", "time": "2021-11-12T00:00:00Z", "region": "ca-central-1",
        "resources": ["arn:aws:s3:::lake"],
        "detail": {"version": "0", "bucket": {"name": "lake"},
                   "object": {"key": "k.tif", "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184", "sequencer": "00"},
                   "request-id": "r", "requester": "1", "reason": "PutObject"}})
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn sqs_messages_from_any_text(text in ".{0,300}") {
        let _ = indexer::events::parse(&text);
        let _ = indexer::events::parse(&format!("{{\"Type\":\"Notification\",\"Message\":{}}}", Value::String(text.clone())));
        let _ = indexer::events::form_decode(&text);
    }

    #[test]
    fn mutated_sqs_messages_parse_or_explain(which in 0usize..3, mutations in prop::collection::vec(arb_mutation(), 1..5), wrap in any::<bool>()) {
        let seed = match which {
            0 => seed_s3_event(),
            1 => seed_eventbridge(),
            _ => seed_stac(),
        };
        let msg = mutate(seed, &mutations);
        let body = if wrap {
            json!({"Type": "Notification", "MessageId": "m", "Message": msg.to_string()}).to_string()
        } else {
            msg.to_string()
        };
        let _ = indexer::events::parse(&body);
    }

    /// Any key S3 form-encodes in a notification comes back as the key itself.
    #[test]
    fn s3_event_keys_decode_to_the_key(key in "[^\u{0}]{1,60}") {
        let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
        let mut msg = seed_s3_event();
        msg["Records"][0]["s3"]["object"]["key"] = Value::String(encoded);
        let events = indexer::events::parse(&msg.to_string()).unwrap();
        prop_assert_eq!(events.len(), 1);
        match &events[0] {
            indexer::events::Event::Created { uri, .. } => prop_assert_eq!(uri, &format!("s3://lake/{key}")),
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

// ---- S3 Inventory (manifest.json, manifest.checksum, CSV data files) ----

/// A manifest as AWS's example shows it (storage-inventory-location).
fn seed_manifest() -> Value {
    json!({"sourceBucket": "lake", "destinationBucket": "arn:aws:s3:::inventory",
        "version": "2016-11-30", "creationTimestamp": "1514944800000", "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag",
        "files": [{"key": "inv/lake/daily/data/a.csv.gz", "size": 10, "MD5checksum": "f11166069f1990abeb9c97ace9cdfabc"}]})
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn inventory_columns() -> Vec<String> {
    [
        "Bucket",
        "Key",
        "VersionId",
        "IsLatest",
        "IsDeleteMarker",
        "Size",
        "LastModifiedDate",
        "ETag",
    ]
    .map(String::from)
    .to_vec()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn inventory_manifests_from_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300), text in ".{0,300}") {
        let _ = indexer::inventory::parse_manifest(&bytes);
        let _ = indexer::inventory::parse_manifest(text.as_bytes());
        let _ = indexer::inventory::parse_checksum(&bytes);
        let _ = indexer::inventory::parse_checksum(text.as_bytes());
        let _ = indexer::inventory::newest_manifests(text.split('\n'));
    }

    #[test]
    fn mutated_inventory_manifests_parse_or_explain(mutations in prop::collection::vec(arb_mutation(), 1..5)) {
        let m = mutate(seed_manifest(), &mutations);
        if let Ok(m) = indexer::inventory::parse_manifest(m.to_string().as_bytes()) {
            prop_assert!(!m.columns.is_empty());
            prop_assert!(m.files.iter().all(|f| f.md5.len() == 32));
        }
    }

    /// Random rows (quoted, unquoted, short, long, any text), gzip-compressed or not, with the manifest's
    /// columns or random ones: rows or an error naming the row, never a panic.
    #[test]
    fn inventory_csv_from_any_rows(
        rows in prop::collection::vec(prop::collection::vec(".{0,12}", 0..10), 0..8),
        raw in prop::collection::vec(any::<u8>(), 0..200),
        columns in prop::collection::vec("[A-Za-z]{0,8}", 0..6),
        quoted in any::<bool>(),
    ) {
        let text: String = rows
            .iter()
            .map(|r| {
                let fields: Vec<String> = r
                    .iter()
                    .map(|f| if quoted { format!("\"{}\"", f.replace('"', "\"\"")) } else { f.clone() })
                    .collect();
                fields.join(",") + "\n"
            })
            .collect();
        let mut each = |_l: indexer::inventory::Listed| true;
        for cols in [inventory_columns(), columns.clone()] {
            let _ = indexer::inventory::read_csv_gz(&gzip(text.as_bytes()), &cols, &mut each);
            let _ = indexer::inventory::read_csv_gz(&gzip(&raw), &cols, &mut each);
            let _ = indexer::inventory::read_csv_gz(&raw, &cols, &mut each);
        }
    }

    /// Any key URL-encoded as the inventory writes it comes back as the key itself.
    #[test]
    fn inventory_keys_decode_to_the_key(key in "[^\u{0}]{1,60}") {
        let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
        let row = format!("\"lake\",\"{encoded}\",\"\",\"true\",\"false\",\"7\",\"2024-01-01T00:00:00.000Z\",\"abc\"\n");
        let mut got = Vec::new();
        indexer::inventory::read_csv_gz(&gzip(row.as_bytes()), &inventory_columns(), &mut |l| {
            got.push(l);
            true
        })
        .unwrap();
        prop_assert_eq!(got.len(), 1);
        prop_assert_eq!(&got[0].key, &key);
        prop_assert_eq!(got[0].size, Some(7));
    }
}
