//! The feeding half of `etlake index`: takes objects as they are listed, recognises them, starts reading
//! remote metadata documents at once, and hands the writer batches in listing order while it works.
use crate::recognition::{Recognised, Recogniser};
use crate::s3::{Fetch, ObjectRef, S3};
use crate::{Error, Result};
use catalog_schema::checkpoint::Seen;
use std::collections::HashMap;

/// One unit of work: a raw file a template recognised, or a metadata document (eo3 or STAC) with its
/// read already under way when it lives in S3.
pub(crate) enum Work {
    Raw(ObjectRef, Recognised),
    Document(ObjectRef, Option<Fetch>),
}

impl Work {
    pub(crate) fn object(&self) -> &ObjectRef {
        match self {
            Work::Raw(o, _) | Work::Document(o, _) => o,
        }
    }
}

/// What the writer gets: the work of up to one batch and the account of every object listed meanwhile.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) works: Vec<Work>,
    /// (object, reason) of objects no product claims.
    pub(crate) skipped: Vec<(String, String)>,
    /// (object, error) of objects whose recognition failed.
    pub(crate) failed: Vec<(String, String)>,
    /// (file, error) of files of the listing itself that could not be used (inventory data files).
    pub(crate) unlisted: Vec<(String, String)>,
    /// Objects listed since the previous batch.
    pub(crate) listed: usize,
    /// (object, its datasets) of objects the crawl checkpoint says are unchanged: not read again.
    pub(crate) unchanged: Vec<(String, Vec<(uuid::Uuid, String)>)>,
    /// Objects listed that belong to other shards of a sharded run: neither read nor reported.
    pub(crate) other_shards: usize,
}

/// A batch, or the listing error that ended the run.
pub(crate) enum Feed {
    Batch(Batch),
    ListingFailed(Error),
}

/// Whether a key names a metadata document rather than a raster.
fn is_document_key(uri: &str) -> bool {
    let lower = uri.to_lowercase();
    [".json", ".yaml", ".yml"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// Reads listed objects until the listing ends (or the writer hangs up), sending a batch whenever
/// `batch` objects are ready to extract, or, for lakes where little is recognised, every `4 × batch`
/// objects listed so progress still shows. The first batches are smaller (64, doubling up to `batch`)
/// so writing starts while the first reads are still coming in.
pub(crate) fn feed(
    mut listed: tokio::sync::mpsc::Receiver<Result<ObjectRef>>,
    recogniser: &Recogniser,
    s3: Option<&S3>,
    (checkpoints, derivation): (&HashMap<String, Seen>, &str),
    batch: usize,
    shard: Option<(crate::shard::Shard, &crate::unclaimed::Siblings)>,
    out: std::sync::mpsc::SyncSender<Feed>,
) {
    let mut current = Batch::default();
    let mut target = batch.min(64);
    while let Some(next) = listed.blocking_recv() {
        let obj = match next {
            Ok(obj) => obj,
            Err(Error::Unlisted { object, message }) => {
                current.unlisted.push((object, message));
                continue;
            }
            Err(e) => {
                if current.listed > 0 || !current.unlisted.is_empty() {
                    let _ = out.send(Feed::Batch(std::mem::take(&mut current)));
                }
                let _ = out.send(Feed::ListingFailed(e));
                return;
            }
        };
        current.listed += 1;
        let document = obj.body.is_some() || is_document_key(&obj.uri);
        let mut recognised = None;
        if let Some((shard, siblings)) = shard {
            // Recognition reads nothing (names only); it tells a sibling file from a file of its own.
            recognised = (!document).then(|| recogniser.recognise(&obj.uri));
            let key = match &recognised {
                None | Some(Ok(Some(_))) => crate::objects::object_uri(&obj.uri),
                Some(_) => crate::shard::owner(&obj.uri, siblings),
            };
            if !shard.takes(&key) {
                current.other_shards += 1;
                if current.listed >= 4 * batch
                    && out.send(Feed::Batch(std::mem::take(&mut current))).is_err()
                {
                    return;
                }
                continue;
            }
        }
        let seen = checkpoints.get(&obj.uri);
        if let (Some(seen), Some(etag)) = (seen, &obj.etag) {
            // The same bytes, converted by the same definitions and options.
            if seen.etag == format!("{etag}#{derivation}") {
                current.unchanged.push((obj.uri, seen.datasets.clone()));
                if current.listed >= 4 * batch
                    && out.send(Feed::Batch(std::mem::take(&mut current))).is_err()
                {
                    return;
                }
                continue;
            }
        }
        if document {
            let fetch = match s3 {
                Some(s3) if obj.body.is_none() && obj.uri.starts_with("s3://") => {
                    Some(s3.spawn_get(&obj.uri))
                }
                _ => None,
            };
            current.works.push(Work::Document(obj, fetch));
        } else {
            match recognised.unwrap_or_else(|| recogniser.recognise(&obj.uri)) {
                Ok(Some(r)) => current.works.push(Work::Raw(obj, r)),
                Ok(None) => current
                    .skipped
                    .push((obj.uri, crate::unclaimed::NO_TEMPLATE.to_string())),
                Err(e) => current.failed.push((obj.uri, e.to_string())),
            }
        }
        if current.works.len() >= target || current.listed >= 4 * batch {
            if out.send(Feed::Batch(std::mem::take(&mut current))).is_err() {
                return;
            }
            target = (target * 2).min(batch);
        }
    }
    if current.listed > 0 || !current.unlisted.is_empty() {
        let _ = out.send(Feed::Batch(current));
    }
}
