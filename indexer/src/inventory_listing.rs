//! `etlake index --inventory`: objects listed from an S3 Inventory report instead of LIST requests.
//! The manifest (given, or the newest under an inventory's prefix) is checked against
//! `manifest.checksum` before anything is read; each data file is checked against the MD5 the manifest
//! gives before its rows are used. A damaged data file is reported as failed (naming it) and the other
//! data files are still read. With `--shard i/N` each run reads its own share of the data files.
//! The formats are in [`crate::inventory`].
use crate::inventory::{self, Manifest};
use crate::s3::{split_s3, ObjectRef, S3};
use crate::shard::Shard;
use crate::{Error, Result};
use std::sync::Arc;

/// An inventory report whose manifest was read and checked.
#[derive(Debug, Clone)]
pub struct Inventory {
    /// `s3://bucket/…/manifest.json`.
    pub manifest_uri: String,
    /// The manifest.
    pub manifest: Manifest,
}

/// Objects kept from the inventory: those matching one of the run's S3 sources (prefixes or globs),
/// all when none is given.
struct Filter {
    sources: Vec<(String, String, Option<globset::GlobMatcher>)>,
}

impl Filter {
    fn new(sources: &[String]) -> Result<Filter> {
        let mut out = Vec::new();
        for s in sources {
            let bad = |m: &str| Error::Source {
                source_arg: s.clone(),
                message: m.to_string(),
            };
            let (bucket, rest) = split_s3(s).ok_or_else(|| {
                bad("with --inventory, sources are s3:// prefixes or globs that select objects of the inventory")
            })?;
            let (prefix, pattern) = crate::sources::split_glob(rest);
            let matcher = match pattern {
                Some(p) => {
                    Some(crate::sources::glob(&format!("{prefix}{p}")).map_err(|m| bad(&m))?)
                }
                None => None,
            };
            out.push((bucket.to_string(), prefix, matcher));
        }
        Ok(Filter { sources: out })
    }

    fn keeps(&self, bucket: &str, key: &str) -> bool {
        self.sources.is_empty()
            || self.sources.iter().any(|(b, prefix, m)| {
                b == bucket
                    && key.starts_with(prefix.as_str())
                    && m.as_ref().is_none_or(|m| m.is_match(key))
            })
    }
}

impl Inventory {
    /// Reads and checks the manifest at `location`: `s3://…/manifest.json`, or the prefix of an
    /// inventory (its newest dated folder's manifest is taken).
    pub fn open(s3: &S3, location: &str) -> Result<Inventory> {
        let bad = |m: String| Error::Source {
            source_arg: format!("--inventory {location}"),
            message: m,
        };
        let (bucket, key) = split_s3(location).ok_or_else(|| {
            bad("expected s3://bucket/…/manifest.json or an inventory's prefix".into())
        })?;
        let manifest_key = if key.ends_with("manifest.json") {
            key.to_string()
        } else {
            newest_manifest(s3, bucket, key)?
        };
        let manifest_uri = format!("s3://{bucket}/{manifest_key}");
        let checksum_uri = format!(
            "{}manifest.checksum",
            manifest_uri.trim_end_matches("manifest.json")
        );
        let bytes = s3.get(&manifest_uri)?;
        let expected =
            inventory::parse_checksum(&s3.get(&checksum_uri)?).map_err(|m| Error::Source {
                source_arg: checksum_uri.clone(),
                message: m,
            })?;
        let actual = inventory::md5_hex(&bytes);
        if actual != expected {
            return Err(Error::Source {
                source_arg: manifest_uri,
                message: format!(
                    "its MD5 is {actual} but manifest.checksum says {expected}: the manifest is damaged \
                     or was replaced while being read; nothing was indexed"
                ),
            });
        }
        let manifest = inventory::parse_manifest(&bytes).map_err(|m| Error::Source {
            source_arg: manifest_uri.clone(),
            message: m,
        })?;
        if !manifest.file_format.eq_ignore_ascii_case("CSV") {
            return Err(Error::Source {
                source_arg: manifest_uri,
                message: format!(
                    "fileFormat {}: etlake reads CSV inventories (set the inventory configuration's \
                     output format to CSV); ORC and Parquet are not read",
                    manifest.file_format
                ),
            });
        }
        tracing::info!(
            manifest = manifest_uri.as_str(),
            data_files = manifest.files.len(),
            "inventory manifest checked"
        );
        Ok(Inventory {
            manifest_uri,
            manifest,
        })
    }

    /// The indexes (in the manifest) of the data files a run reads: all, or its shard's share (data
    /// file j goes to shard j mod N, so every shard gets a near-equal number of files).
    pub fn files_of(&self, shard: Option<Shard>) -> Vec<usize> {
        (0..self.manifest.files.len())
            .filter(|j| shard.is_none_or(|s| *j as u64 % u64::from(s.count) == u64::from(s.index)))
            .collect()
    }

    /// Sends the objects of the run's data files that `sources` select (all when empty), in manifest
    /// order; a data file that cannot be read or fails its checksum is sent as a failed listing entry
    /// naming it, and the next one is read. Stops when the receiver hangs up.
    pub fn send(
        &self,
        s3: &S3,
        sources: &[String],
        shard: Option<Shard>,
        tx: &tokio::sync::mpsc::Sender<Result<ObjectRef>>,
    ) -> Result<()> {
        let filter = Filter::new(sources)?;
        let m = &self.manifest;
        let files = self.files_of(shard);
        if let Some(s) = shard {
            tracing::info!(
                "shard {}/{}: {} of the inventory's {} data files",
                s.index,
                s.count,
                files.len(),
                m.files.len()
            );
        }
        // The next data file is read while this one's rows are sent.
        let mut pending = files.first().map(|&j| s3.spawn_get(&self.data_uri(j)));
        for (n, &j) in files.iter().enumerate() {
            let fetch = pending.take();
            pending = files.get(n + 1).map(|&k| s3.spawn_get(&self.data_uri(k)));
            let uri = self.data_uri(j);
            let failed = |message: String| {
                tx.blocking_send(Err(Error::Unlisted {
                    object: uri.clone(),
                    message,
                }))
                .is_ok()
            };
            let bytes = match fetch.map(|f| s3.wait(vec![f])).and_then(|mut v| v.pop()) {
                Some(Ok(b)) => b,
                Some(Err(e)) => {
                    if !failed(format!("inventory data file not read: {e}")) {
                        return Ok(());
                    }
                    continue;
                }
                None => continue,
            };
            let actual = inventory::md5_hex(&bytes);
            if actual != m.files[j].md5 {
                let message = format!(
                    "inventory data file damaged: its MD5 is {actual} but {} says {}; its objects were \
                     not listed",
                    self.manifest_uri, m.files[j].md5
                );
                if !failed(message) {
                    return Ok(());
                }
                continue;
            }
            let mut open = true;
            let result = inventory::read_csv_gz(&bytes, &m.columns, &mut |o| {
                if !filter.keeps(&o.bucket, &o.key) {
                    return true;
                }
                let obj = ObjectRef {
                    uri: format!("s3://{}/{}", o.bucket, o.key),
                    size: o.size,
                    etag: o.etag,
                    body: None,
                };
                open = tx.blocking_send(Ok(obj)).is_ok();
                open
            });
            if let Err(e) = result {
                // Rows before the malformed one were sent; the rest of the file is not listed.
                if !failed(format!("inventory data file unreadable: {e}")) {
                    return Ok(());
                }
            }
            if !open {
                return Ok(());
            }
        }
        Ok(())
    }

    fn data_uri(&self, j: usize) -> String {
        format!(
            "s3://{}/{}",
            self.manifest.destination_bucket, self.manifest.files[j].key
        )
    }
}

/// The key of the newest manifest under `prefix`: exactly one inventory must be there.
fn newest_manifest(s3: &S3, bucket: &str, prefix: &str) -> Result<String> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    let keep: Arc<dyn Fn(&str) -> bool + Send + Sync> =
        Arc::new(|k: &str| k.ends_with("/manifest.json"));
    let lister = {
        let (s3, bucket, prefix) = (s3.clone(), bucket.to_string(), prefix.to_string());
        std::thread::spawn(move || s3.list(&bucket, &prefix, keep, tx))
    };
    let mut keys = Vec::new();
    while let Some(o) = rx.blocking_recv() {
        if let Some((_, key)) = split_s3(&o?.uri) {
            keys.push(key.to_string());
        }
    }
    lister.join().map_err(|_| Error::Source {
        source_arg: format!("s3://{bucket}/{prefix}"),
        message: "the listing stopped".into(),
    })??;
    let found = inventory::newest_manifests(keys.iter().map(String::as_str));
    match &found[..] {
        [] => Err(Error::Source {
            source_arg: format!("s3://{bucket}/{prefix}"),
            message: "no inventory manifest (…/YYYY-MM-DDTHH-MMZ/manifest.json) under this prefix"
                .into(),
        }),
        [(_, key)] => Ok(key.clone()),
        several => Err(Error::Source {
            source_arg: format!("s3://{bucket}/{prefix}"),
            message: format!(
                "{} inventories under this prefix: give one of {}",
                several.len(),
                several
                    .iter()
                    .map(|(p, _)| format!("s3://{bucket}/{p}/"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_select_objects_of_the_inventory() {
        let f =
            Filter::new(&["s3://lake/chirps/**/*.tif".into(), "s3://lake/soil/".into()]).unwrap();
        assert!(f.keeps("lake", "chirps/2023/x.tif"));
        assert!(!f.keeps("lake", "chirps/2023/x.nc"));
        assert!(f.keeps("lake", "soil/anything"));
        assert!(!f.keeps("other", "soil/anything"));
        assert!(Filter::new(&[]).unwrap().keeps("any", "thing"));
        let e = Filter::new(&["/local/folder".into()])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("with --inventory"), "{e}");
    }

    #[test]
    fn shards_take_every_nth_data_file() {
        let inv = Inventory {
            manifest_uri: "s3://inv/m/manifest.json".into(),
            manifest: Manifest {
                source_bucket: "lake".into(),
                destination_bucket: "inv".into(),
                file_format: "CSV".into(),
                columns: vec!["Bucket".into(), "Key".into()],
                files: (0..7)
                    .map(|i| inventory::DataFile {
                        key: format!("data/{i}.csv.gz"),
                        size: None,
                        md5: "0".repeat(32),
                    })
                    .collect(),
            },
        };
        assert_eq!(inv.files_of(None).len(), 7);
        let shards: Vec<Vec<usize>> = (0..3)
            .map(|i| inv.files_of(Some(Shard::new(i, 3).unwrap())))
            .collect();
        assert_eq!(shards, [vec![0, 3, 6], vec![1, 4], vec![2, 5]]);
    }
}
