//! Decoded source windows shared by the tiles of a run: a model run's tiles cut one grid into bands
//! of rows, and the tiles running at once read the same day of the same files. A window read for the
//! whole grid (one read where each tile would decode its own part — a gzipped CHIRPS day, a gridMET
//! chunk of 61 days) is kept, least recently used dropped first, within a byte budget.
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The windows by key (file, band, window) with the tick of their last use, the keys by that tick
/// (least recently used first), and their bytes.
#[derive(Default)]
struct Kept {
    windows: HashMap<String, (Arc<Vec<f64>>, u64)>,
    by_use: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
}

impl Kept {
    fn touch(&mut self, key: &str) -> Option<Arc<Vec<f64>>> {
        self.tick += 1;
        let (v, last) = self.windows.get_mut(key)?;
        self.by_use.remove(last);
        *last = self.tick;
        self.by_use.insert(self.tick, key.to_string());
        Some(v.clone())
    }
}

/// Decoded windows within a byte budget, with counts of reads served and made.
pub struct WindowCache {
    kept: Mutex<Kept>,
    budget: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl WindowCache {
    /// A cache holding at most `budget` bytes of windows.
    pub fn new(budget: usize) -> WindowCache {
        WindowCache {
            kept: Mutex::new(Kept::default()),
            budget,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The window kept under `key`, or `read`'s, kept when it fits the budget. Two threads missing
    /// the same key at once both read it (the second's is dropped).
    pub fn get_or_read<E>(
        &self,
        key: &str,
        read: impl FnOnce() -> Result<Vec<f64>, E>,
    ) -> Result<Arc<Vec<f64>>, E> {
        let lock = || self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = lock().touch(key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(v);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let v = Arc::new(read()?);
        let bytes = v.len() * std::mem::size_of::<f64>();
        let mut kept = lock();
        if bytes <= self.budget && !kept.windows.contains_key(key) {
            kept.tick += 1;
            let tick = kept.tick;
            kept.bytes += bytes;
            kept.windows.insert(key.to_string(), (v.clone(), tick));
            kept.by_use.insert(tick, key.to_string());
            while kept.bytes > self.budget {
                let Some((_, oldest)) = kept.by_use.pop_first() else {
                    break;
                };
                if let Some((old, _)) = kept.windows.remove(&oldest) {
                    kept.bytes -= old.len() * std::mem::size_of::<f64>();
                }
            }
        }
        Ok(v)
    }

    /// Reads served from the cache and reads made.
    pub fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_reused_and_the_least_recent_dropped_past_the_budget() {
        let c = WindowCache::new(3 * 8 * 10);
        let read = |x: f64| move || Ok::<_, ()>(vec![x; 10]);
        assert_eq!(*c.get_or_read("a", read(1.0)).unwrap(), vec![1.0; 10]);
        c.get_or_read("b", read(2.0)).unwrap();
        c.get_or_read("c", read(3.0)).unwrap();
        // A hit returns the kept window, not a new read.
        assert_eq!(*c.get_or_read("a", read(9.0)).unwrap(), vec![1.0; 10]);
        assert_eq!(c.counts(), (1, 3));
        // A fourth window drops the least recently used (b), not a.
        c.get_or_read("d", read(4.0)).unwrap();
        assert_eq!(*c.get_or_read("a", read(9.0)).unwrap(), vec![1.0; 10]);
        assert_eq!(*c.get_or_read("b", read(5.0)).unwrap(), vec![5.0; 10]);
        // Larger than the budget: read, not kept.
        let big = WindowCache::new(8);
        big.get_or_read("x", read(1.0)).unwrap();
        assert_eq!(*big.get_or_read("x", read(2.0)).unwrap(), vec![2.0; 10]);
        assert_eq!(big.counts(), (0, 2));
        // A failed read keeps nothing.
        assert!(c.get_or_read("e", || Err::<Vec<f64>, _>("bad")).is_err());
        assert_eq!(*c.get_or_read("e", read(6.0)).unwrap(), vec![6.0; 10]);
    }
}
