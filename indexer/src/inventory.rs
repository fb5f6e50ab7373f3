//! S3 Inventory reports (`etlake index --inventory`): the manifest, its checksum file and the CSV data
//! files as S3 publishes them. Parsing and checking only (no I/O): arbitrary bytes give an error that
//! says what was expected, never a panic. `inventory_listing` fetches the files and streams the objects.
//!
//! Layout (AWS, "Locating your inventory list",
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html>):
//! `destination-prefix/source-bucket/config-ID/YYYY-MM-DDTHH-MMZ/manifest.json` beside
//! `manifest.checksum` (the MD5 of `manifest.json`, hex), the data files under
//! `destination-prefix/source-bucket/config-ID/data/`. The manifest names `sourceBucket`,
//! `destinationBucket` (an ARN), `fileFormat` (`CSV`, `ORC` or `Parquet`), `fileSchema` (the CSV
//! column names in order, comma separated) and `files[].{key, size, MD5checksum}`. CSV data files are
//! gzip-compressed, without a header row; the `Key` column is URL-encoded (AWS, "Amazon S3 Inventory
//! list", <https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html>).
use md5::{Digest, Md5};
use serde_json::Value;
use std::io::Read;

/// A parsed `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The bucket the inventory lists.
    pub source_bucket: String,
    /// The bucket holding the data files (the name, from the ARN).
    pub destination_bucket: String,
    /// `CSV`, `ORC` or `Parquet`.
    pub file_format: String,
    /// The column names of the data files, in order.
    pub columns: Vec<String>,
    /// The data files, in the manifest's order.
    pub files: Vec<DataFile>,
}

/// One data file of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Its key in the destination bucket.
    pub key: String,
    /// Its size in bytes, when given.
    pub size: Option<u64>,
    /// The MD5 of its bytes (lower-case hex).
    pub md5: String,
}

/// One object listed by a data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The bucket (the `Bucket` column).
    pub bucket: String,
    /// The key, URL-decoded.
    pub key: String,
    /// Size in bytes (`Size`), when the schema has it.
    pub size: Option<u64>,
    /// ETag (`ETag`, without quotes), when the schema has it.
    pub etag: Option<String>,
}

/// The MD5 of `bytes`, lower-case hex.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_md5_hex(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The checksum a `manifest.checksum` file holds (32 hex digits, surrounding white space allowed).
pub fn parse_checksum(bytes: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not text".to_string())?;
    let sum = text.trim();
    if !is_md5_hex(sum) {
        let shown: String = sum.chars().take(40).collect();
        return Err(format!(
            "expected an MD5 checksum (32 hexadecimal digits), found {shown:?}"
        ));
    }
    Ok(sum.to_ascii_lowercase())
}

/// Parses `manifest.json`.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e})"))?;
    let o = v
        .as_object()
        .ok_or("not a JSON object (expected sourceBucket, fileFormat, fileSchema, files)")?;
    let text = |k: &str| -> Result<String, String> {
        o.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| format!("no `{k}` string"))
    };
    let destination = text("destinationBucket")?;
    let destination_bucket = destination
        .strip_prefix("arn:aws:s3:::")
        .or_else(|| destination.rsplit_once(":::").map(|(_, b)| b))
        .unwrap_or(&destination)
        .to_string();
    let columns: Vec<String> = text("fileSchema")?
        .split(',')
        .map(|c| c.trim().to_string())
        .collect();
    if columns.iter().any(String::is_empty) {
        return Err("`fileSchema` has an empty column name".into());
    }
    let files = o
        .get("files")
        .and_then(Value::as_array)
        .ok_or("no `files` list")?
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let key = f
                .get("key")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| format!("files[{i}]: no `key`"))?;
            let md5 = f
                .get("MD5checksum")
                .and_then(Value::as_str)
                .filter(|s| is_md5_hex(s))
                .ok_or_else(|| {
                    format!("files[{i}] ({key}): no `MD5checksum` of 32 hexadecimal digits")
                })?;
            Ok(DataFile {
                key: key.to_string(),
                size: f.get("size").and_then(Value::as_u64),
                md5: md5.to_ascii_lowercase(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Manifest {
        source_bucket: text("sourceBucket")?,
        destination_bucket,
        file_format: text("fileFormat")?,
        columns,
        files,
    })
}

/// Whether a folder name is an inventory's dated folder, `YYYY-MM-DDTHH-MMZ`.
pub fn is_dated_folder(name: &str) -> bool {
    let b = name.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 17
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b'-'
        && digits(14..16)
        && b[16] == b'Z'
}

/// Of manifest keys (`…/config-ID/YYYY-MM-DDTHH-MMZ/manifest.json`), the newest of each inventory
/// (the folder above the dated one), as (inventory folder, newest manifest key). Keys of another form
/// are left out.
pub fn newest_manifests<'a>(keys: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    let mut newest: std::collections::BTreeMap<String, (String, String)> = Default::default();
    for key in keys {
        let Some(folder) = key.strip_suffix("/manifest.json") else {
            continue;
        };
        let (parent, dated) = folder.rsplit_once('/').unwrap_or(("", folder));
        if !is_dated_folder(dated) {
            continue;
        }
        let entry = newest
            .entry(parent.to_string())
            .or_insert_with(|| (dated.to_string(), key.to_string()));
        if dated > entry.0.as_str() {
            *entry = (dated.to_string(), key.to_string());
        }
    }
    newest.into_iter().map(|(p, (_, k))| (p, k)).collect()
}

/// Where the columns etlake uses are in a CSV data file's rows.
#[derive(Debug, Clone, Copy)]
struct Columns {
    count: usize,
    bucket: usize,
    key: usize,
    size: Option<usize>,
    etag: Option<usize>,
    is_latest: Option<usize>,
    delete_marker: Option<usize>,
}

impl Columns {
    fn of(names: &[String]) -> Result<Columns, String> {
        let at = |n: &str| names.iter().position(|c| c.eq_ignore_ascii_case(n));
        Ok(Columns {
            count: names.len(),
            bucket: at("Bucket").ok_or("`fileSchema` has no `Bucket` column")?,
            key: at("Key").ok_or("`fileSchema` has no `Key` column")?,
            size: at("Size"),
            etag: at("ETag"),
            is_latest: at("IsLatest"),
            delete_marker: at("IsDeleteMarker"),
        })
    }
}

/// Reads a gzip-compressed CSV data file with the manifest's columns, calling `each` with every current
/// object (rows of older versions and delete markers are left out) until it returns false. Returns
/// the number of rows read, or the first malformed row (numbered from 1) and why.
pub fn read_csv_gz(
    gz: &[u8],
    columns: &[String],
    each: &mut dyn FnMut(Listed) -> bool,
) -> Result<usize, String> {
    let cols = Columns::of(columns)?;
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut text)
        .map_err(|e| format!("not a gzip file ({e})"))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_slice());
    let mut rows = 0;
    for (i, record) in reader.byte_records().enumerate() {
        let line = i + 1;
        let record = record.map_err(|e| format!("row {line}: not CSV ({e})"))?;
        rows += 1;
        if record.len() != cols.count {
            return Err(format!(
                "row {line} has {} fields where `fileSchema` names {}",
                record.len(),
                cols.count
            ));
        }
        let field = |j: usize| -> Result<&str, String> {
            std::str::from_utf8(&record[j])
                .map_err(|_| format!("row {line}, field {}: not UTF-8", j + 1))
        };
        let flag = |j: Option<usize>| -> Result<Option<bool>, String> {
            j.map(|j| field(j).map(|v| v.eq_ignore_ascii_case("true")))
                .transpose()
        };
        if flag(cols.delete_marker)? == Some(true) || flag(cols.is_latest)? == Some(false) {
            continue;
        }
        let bucket = field(cols.bucket)?.to_string();
        let raw_key = field(cols.key)?;
        let key = percent_decode(raw_key)
            .ok_or_else(|| format!("row {line}: the key {raw_key:?} is not URL-encoded UTF-8"))?;
        if bucket.is_empty() || key.is_empty() {
            return Err(format!("row {line}: an empty bucket or key"));
        }
        let size = match cols.size.map(field).transpose()? {
            None | Some("") => None,
            Some(s) => Some(
                s.parse::<u64>()
                    .map_err(|_| format!("row {line}: the size {s:?} is not a whole number"))?,
            ),
        };
        let etag = cols
            .etag
            .map(field)
            .transpose()?
            .map(|e| e.trim_matches('"').to_string())
            .filter(|e| !e.is_empty());
        if !each(Listed {
            bucket,
            key,
            size,
            etag,
        }) {
            break;
        }
    }
    Ok(rows)
}

/// Decodes a URL-encoded key as inventory CSV writes it: `%XX` is a byte and `+` a space (keys are
/// form-encoded, so a literal `+` is `%2B`); the bytes must be UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(text: &str) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap()
    }

    fn cols(s: &str) -> Vec<String> {
        s.split(", ").map(str::to_string).collect()
    }

    #[test]
    fn md5_of_the_rfc_1321_test_suite() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            parse_checksum(b"900150983CD24FB0D6963F7D28E17F72\n").unwrap(),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert!(parse_checksum(b"abc")
            .unwrap_err()
            .contains("32 hexadecimal"));
    }

    #[test]
    fn manifest_as_documented() {
        // The shape of AWS's example manifest (storage-inventory-location.html).
        let m = br#"{"sourceBucket": "example-source-bucket",
            "destinationBucket": "arn:aws:s3:::example-inventory-destination-bucket",
            "version": "2016-11-30", "creationTimestamp": "1514944800000", "fileFormat": "CSV",
            "fileSchema": "Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass",
            "files": [{"key": "Inventory/example-source-bucket/2016-11-06T21-32Z/files/939c6d46.csv.gz",
                       "size": 2147483647, "MD5checksum": "f11166069f1990abeb9c97ace9cdfabc"}]}"#;
        let m = parse_manifest(m).unwrap();
        assert_eq!(m.source_bucket, "example-source-bucket");
        assert_eq!(m.destination_bucket, "example-inventory-destination-bucket");
        assert_eq!(m.columns[1], "Key");
        assert_eq!(m.files[0].size, Some(2147483647));
        let e = parse_manifest(
            br#"{"sourceBucket": "s", "destinationBucket": "d", "fileFormat": "CSV",
            "fileSchema": "Bucket, Key", "files": [{"key": "k", "MD5checksum": "xyz"}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("files[0] (k)"), "{e}");
        assert!(parse_manifest(b"[]")
            .unwrap_err()
            .contains("not a JSON object"));
    }

    #[test]
    fn csv_rows_keys_decoded_old_versions_left_out() {
        let schema = cols("Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, ETag");
        let text = "\"lake\",\"a/my+file%2B1%3A2.tif\",\"v2\",\"true\",\"false\",\"12\",\"abc\"\n\
                    \"lake\",\"a/old.tif\",\"v1\",\"false\",\"false\",\"10\",\"def\"\n\
                    \"lake\",\"a/gone.tif\",\"v3\",\"true\",\"true\",\"\",\"\"\n\
                    \"lake\",\"b/x%C3%A9.tif\",\"\",\"true\",\"false\",\"5\",\"\"\n";
        let mut got = Vec::new();
        let n = read_csv_gz(&gz(text), &schema, &mut |l| {
            got.push(l);
            true
        })
        .unwrap();
        assert_eq!(n, 4);
        assert_eq!(
            got,
            [
                Listed {
                    bucket: "lake".into(),
                    key: "a/my file+1:2.tif".into(),
                    size: Some(12),
                    etag: Some("abc".into())
                },
                Listed {
                    bucket: "lake".into(),
                    key: "b/xé.tif".into(),
                    size: Some(5),
                    etag: None
                },
            ]
        );
    }

    #[test]
    fn csv_errors_name_the_row() {
        let schema = cols("Bucket, Key, Size");
        let mut none = |_: Listed| true;
        let e =
            read_csv_gz(&gz("\"l\",\"k\",\"1\"\n\"l\",\"k\"\n"), &schema, &mut none).unwrap_err();
        assert_eq!(e, "row 2 has 2 fields where `fileSchema` names 3");
        let e = read_csv_gz(&gz("\"l\",\"k\",\"x\"\n"), &schema, &mut none).unwrap_err();
        assert!(e.contains("row 1: the size \"x\""), "{e}");
        let e = read_csv_gz(&gz("\"l\",\"%zz\",\"1\"\n"), &schema, &mut none).unwrap_err();
        assert!(e.contains("not URL-encoded"), "{e}");
        let e = read_csv_gz(b"plain text", &schema, &mut none).unwrap_err();
        assert!(e.contains("not a gzip file"), "{e}");
        let e = read_csv_gz(&gz(""), &cols("Key, Size"), &mut none).unwrap_err();
        assert!(e.contains("no `Bucket` column"), "{e}");
    }

    #[test]
    fn newest_dated_folder_of_each_inventory() {
        let keys = [
            "inv/lake/daily/2024-01-01T01-00Z/manifest.json",
            "inv/lake/daily/2024-01-03T01-00Z/manifest.json",
            "inv/lake/daily/2024-01-02T01-00Z/manifest.json",
            "inv/lake/daily/hive/dt=2024-01-03-01-00/symlink.txt",
            "inv/lake/daily/data/x.csv.gz",
            "inv/lake/weekly/2023-12-31T00-00Z/manifest.json",
            "inv/lake/daily/latest/manifest.json",
        ];
        assert_eq!(
            newest_manifests(keys),
            [
                (
                    "inv/lake/daily".to_string(),
                    "inv/lake/daily/2024-01-03T01-00Z/manifest.json".to_string()
                ),
                (
                    "inv/lake/weekly".to_string(),
                    "inv/lake/weekly/2023-12-31T00-00Z/manifest.json".to_string()
                ),
            ]
        );
        assert!(is_dated_folder("2016-11-06T21-32Z"));
        assert!(!is_dated_folder("2016-11-06T21:32Z"));
        assert!(!is_dated_folder("ÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿÿ"));
    }
}
