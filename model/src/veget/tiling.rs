//! How a run's grid is cut into tiles (bands of whole rows, so each tile's outputs are contiguous
//! rows of every file), how big a tile may be for the memory allowed, and which tiles one of N
//! processes takes (`--tile i/N`); and the period cut into the months a tile loads at a time.
use crate::{Error, Result};
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// Bytes a run holds per pixel of a tile: the statics (5), the state (7), the day's outputs (13) and
/// the monthly, annual and balance sums (~40), 8 bytes each; a month of aligned dynamic inputs (6 ×
/// 31 days) in f32; and while they load, the month of one input being aligned and of Tmin and Tmax
/// in f64 (3 × 31).
pub const BYTES_PER_PIXEL: u64 = 8 * (5 + 7 + 13 + 40) + 4 * 6 * 31 + 8 * 3 * 31;

/// The grid cut into bands of `rows` rows (the last one shorter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tiling {
    /// Grid width.
    pub width: usize,
    /// Grid height.
    pub height: usize,
    /// Rows per tile.
    pub rows: usize,
}

impl Tiling {
    /// How many tiles.
    pub fn count(&self) -> usize {
        self.height.div_ceil(self.rows.max(1))
    }

    /// Tile `k`'s first row and row count.
    pub fn rows_of(&self, k: usize) -> (usize, usize) {
        let first = k * self.rows;
        (first, self.rows.min(self.height.saturating_sub(first)))
    }

    /// MiB one tile of this tiling holds.
    pub fn tile_mib(&self) -> f64 {
        (self.rows * self.width) as f64 * BYTES_PER_PIXEL as f64 / (1u64 << 20) as f64
    }
}

/// One of `count` processes sharing a run's tiles (`--tile index/count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// This process, from 0.
    pub index: usize,
    /// Processes in all.
    pub count: usize,
}

impl Share {
    /// The whole run in one process.
    pub const ALL: Share = Share { index: 0, count: 1 };

    /// The tiles this process takes among `tiles`: every `count`-th from `index` (neighbouring tiles
    /// go to different processes, so a share is spread over the area and the shares are even).
    pub fn tiles(&self, tiles: usize) -> Vec<usize> {
        (0..tiles)
            .filter(|k| k % self.count.max(1) == self.index)
            .collect()
    }
}

/// The tiling of a `width` × `height` grid and how many tiles run at once on `threads` cores within
/// `limit` = (MiB, what sets it): `rows` per tile when given, else as many as let one tile per core
/// fit (and at least one tile per core), evened so that the tiles make whole rounds on the cores. A
/// single row that does not fit is refused before anything
/// is read.
pub fn plan(
    width: usize,
    height: usize,
    rows: Option<usize>,
    limit: Option<(f64, &str)>,
    threads: usize,
) -> Result<(Tiling, usize)> {
    let threads = threads.max(1);
    let row_mib = width as f64 * BYTES_PER_PIXEL as f64 / (1u64 << 20) as f64;
    let (limit_mib, whose) = limit.unwrap_or((f64::INFINITY, "allowed"));
    let refuse = |need: f64, what: &str| {
        Error::Request(format!(
            "the model grid is {width}×{height} pixels and {what} needs ~{need:.1} MiB \
             ({BYTES_PER_PIXEL} bytes per pixel: a month of aligned inputs, the state and the \
             running sums), more than the {limit_mib:.1} MiB {whose}: choose a smaller area or a \
             coarser resolution, or allow more memory"
        ))
    };
    let rows = match rows {
        Some(r) => r.clamp(1, height.max(1)),
        None => {
            let fit = (limit_mib / (threads as f64 * row_mib)).floor();
            let fit = if fit >= 1.0 {
                fit
            } else {
                (limit_mib / row_mib).floor()
            };
            let even = height.div_ceil(threads).max(1);
            let rows = if fit.is_finite() {
                (fit as usize).min(even).max(1)
            } else {
                even
            };
            // A whole number of rounds on the cores (5 tiles on 2 cores would leave one core idle
            // for the last): the tile count rounded up to a multiple of the threads, tiles evened.
            let count = height.div_ceil(rows).div_ceil(threads) * threads;
            height.div_ceil(count).max(1)
        }
    };
    let tiling = Tiling {
        width,
        height,
        rows: rows.max(1),
    };
    let parallel = parallel(&tiling, limit, threads).ok_or_else(|| {
        refuse(
            tiling.tile_mib(),
            &format!("one tile of {} row(s)", tiling.rows),
        )
    })?;
    Ok((tiling, parallel))
}

/// How many tiles of `tiling` run at once on `threads` cores within `limit`; None when not even one
/// fits.
pub fn parallel(tiling: &Tiling, limit: Option<(f64, &str)>, threads: usize) -> Option<usize> {
    let fit = match limit {
        Some((mib, _)) => (mib / tiling.tile_mib()).floor(),
        None => f64::INFINITY,
    };
    if fit < 1.0 {
        return None;
    }
    Some((fit.min(threads as f64) as usize).clamp(1, tiling.count().max(1)))
}

/// The period cut into calendar months (the first and last clipped).
pub(super) fn months(start: NaiveDate, end: NaiveDate) -> Vec<Vec<NaiveDate>> {
    let mut out: Vec<Vec<NaiveDate>> = Vec::new();
    let mut d = start;
    while d <= end {
        match out.last_mut() {
            Some(m) if m[0].month() == d.month() && m[0].year() == d.year() => m.push(d),
            _ => out.push(vec![d]),
        }
        d += Duration::days(1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_fit_the_memory_and_shares_cover_them_once() {
        // 1000 pixels a row = ~1.9 MiB a row.
        let (t, par) = plan(1000, 95, None, Some((40.0, "--max-memory")), 2).unwrap();
        assert_eq!((t.rows, par), (10, 2));
        assert_eq!(t.count(), 10);
        assert_eq!(t.rows_of(9), (90, 5));
        // Without a limit: one tile per core.
        let (t, par) = plan(1000, 95, None, None, 2).unwrap();
        assert_eq!((t.rows, t.count(), par), (48, 2, 2));
        // Given rows; a tile that cannot fit is refused, naming the limit.
        let (t, _) = plan(1000, 95, Some(7), None, 2).unwrap();
        assert_eq!(t.count(), 14);
        let e = plan(1000, 95, None, Some((1.0, "--max-memory")), 2).unwrap_err();
        assert!(e.to_string().contains("1.0 MiB --max-memory"), "{e}");
        let mut seen = vec![0; 14];
        for i in 0..3 {
            for k in (Share { index: i, count: 3 }).tiles(14) {
                seen[k] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    }

    #[test]
    fn periods_cut_into_calendar_months() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let m = months(d(2019, 12, 30), d(2020, 3, 1));
        assert_eq!(m.len(), 4);
        assert_eq!(m[0], [d(2019, 12, 30), d(2019, 12, 31)]);
        assert_eq!(m[2].len(), 29);
        assert_eq!(m[3], [d(2020, 3, 1)]);
    }
}
