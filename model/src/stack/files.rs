//! The files a load's reads open, kept open for the next dataset of the same file (for one load, or
//! for the life of a stager that keeps them, e.g. a tiled model run's): gridMET stores a
//! year of days as the bands of one NetCDF, and opening it again for every day (each open parses its
//! whole header) cost more than reading the day. Each handle is used by one thread at a time (taken
//! out, put back); a bounded number stay open, the least recently used closed first.
use std::collections::VecDeque;
use std::sync::Mutex;

/// An opened file and, when the document had to georeference it, the VRT over it (dropped first:
/// the VRT reads through the file's handle).
pub(super) struct Opened {
    pub(super) vrt: Option<gdal::Dataset>,
    pub(super) file: gdal::Dataset,
}

impl Opened {
    pub(super) fn dataset(&self) -> &gdal::Dataset {
        self.vrt.as_ref().unwrap_or(&self.file)
    }
}

/// Idle handles by GDAL path, oldest first.
pub(super) struct OpenFiles {
    idle: Mutex<VecDeque<(String, Opened)>>,
    keep: usize,
}

impl OpenFiles {
    /// A pool keeping at most `keep` idle handles.
    pub(super) fn new(keep: usize) -> Self {
        OpenFiles {
            idle: Mutex::new(VecDeque::new()),
            keep: keep.max(1),
        }
    }

    /// An idle handle of `path`, taken out of the pool.
    pub(super) fn take(&self, path: &str) -> Option<Opened> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let at = idle.iter().rposition(|(p, _)| p == path)?;
        idle.remove(at).map(|(_, o)| o)
    }

    /// Puts a handle back (a georeferenced one is not kept: its VRT holds one document's grid).
    pub(super) fn put(&self, path: String, opened: Opened) {
        if opened.vrt.is_some() {
            return;
        }
        let closed = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.push_back((path, opened));
            (idle.len() > self.keep).then(|| idle.pop_front())
        };
        drop(closed);
    }
}
