//! What each provider publishes and where, for a product and a time range:
//! - **CHIRPS v2.0 daily** (UCSB Climate Hazards Center, `https://data.chc.ucsb.edu/products/CHIRPS-2.0/`):
//!   final days in `global_daily/tifs/p05/YYYY/chirps-v2.0.YYYY.MM.DD.tif.gz` (COGs in
//!   `global_daily/cogs/p05/YYYY/….cog`), preliminary days in `prelim/global_daily/tifs/p05/YYYY/`
//!   (`.tif` or `.tif.gz`); found by reading the Apache directory listings. A day with a final file
//!   takes the final one (the indexer then archives the preliminary dataset).
//! - **gridMET** (University of Idaho, `https://www.northwestknowledge.net/metdata/data/`): one
//!   NetCDF per variable and year, `{var}_{YYYY}.nc`; the current year's file is rewritten daily, so
//!   each file's size, ETag and Last-Modified (HEAD) decide whether the lake's copy is current.
//!
//! Listings give names, not validators. A file the lake already holds is HEADed for its size, ETag
//! and Last-Modified (`head_all`), to decide whether it changed; a file the lake lacks is not: its
//! GET's headers carry the same validators (see `download.rs`), which saves a round trip per file on
//! a first sync. A dry run HEADs everything, so its plan shows sizes and unpublished files.
//!
//! - **MODIS** and **GPM IMERG** through NASA's CMR: see `earthdata.rs`.
//! - **Landsat Collection 2 Level-2** through USGS's STAC API, copied from the requester-pays
//!   bucket `s3://usgs-landsat`: see `landsat.rs`.
//!
//! Files land under the provider's own layout (`CHIRPS-2.0/…` as on the server, `gridmet/{var}_{YYYY}.nc`),
//! which the recognition specs in product-defs/recognition expect.
use crate::http::Http;
use crate::{Remote, SyncOptions};
use chrono::NaiveDate;
use std::sync::Arc;

/// A provider `etlake sync` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// CHIRPS v2.0 daily.
    Chirps,
    /// gridMET yearly NetCDF.
    Gridmet,
    /// MODIS (LP DAAC) through CMR, with Earthdata Login.
    Modis,
    /// GPM IMERG V07 (GES DISC) through CMR, with Earthdata Login.
    Imerg,
    /// Landsat Collection 2 Level-2 through USGS's STAC API, from the requester-pays bucket.
    Landsat,
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "chirps" => Ok(Provider::Chirps),
            "gridmet" => Ok(Provider::Gridmet),
            "modis" => Ok(Provider::Modis),
            "imerg" => Ok(Provider::Imerg),
            "landsat" => Ok(Provider::Landsat),
            other => Err(format!(
                "unknown provider {other:?}: expected chirps, gridmet, modis, imerg or landsat"
            )),
        }
    }
}

impl Provider {
    /// The public base URL.
    pub fn default_base(self) -> &'static str {
        match self {
            Provider::Chirps => "https://data.chc.ucsb.edu/products/CHIRPS-2.0",
            Provider::Gridmet => "https://www.northwestknowledge.net/metdata/data",
            Provider::Modis | Provider::Imerg => crate::cmr::DEFAULT_CMR,
            Provider::Landsat => crate::landsat::DEFAULT_STAC,
        }
    }

    /// The environment variable overriding the base URL.
    pub fn env_var(self) -> &'static str {
        match self {
            Provider::Chirps => "ETLAKE_CHIRPS_URL",
            Provider::Gridmet => "ETLAKE_GRIDMET_URL",
            Provider::Modis | Provider::Imerg => "ETLAKE_CMR_URL",
            Provider::Landsat => "ETLAKE_LANDSAT_STAC_URL",
        }
    }

    /// Found through CMR and downloaded with Earthdata Login.
    pub fn earthdata(self) -> bool {
        matches!(self, Provider::Modis | Provider::Imerg)
    }

    /// Longitude/latitude coverage W,S,E,N.
    fn coverage(self) -> [f64; 4] {
        match self {
            Provider::Chirps => [-180.0, -50.0, 180.0, 50.0],
            Provider::Gridmet => [-124.8, 25.0, -67.0, 49.5],
            Provider::Modis | Provider::Imerg | Provider::Landsat => [-180.0, -90.0, 180.0, 90.0],
        }
    }
}

/// What discovery found.
#[derive(Debug, Default)]
pub struct Found {
    /// Files in date order: with validators when `validated`, else names only (see `head_all`).
    pub files: Vec<Remote>,
    /// The files carry the provider's validators (CMR, STAC); listing providers' do not.
    pub validated: bool,
    /// (URL, reason) of listings or HEADs that failed.
    pub failures: Vec<(String, String)>,
    /// Remarks for the summary.
    pub notes: Vec<String>,
}

/// The base URL in effect: the flag, else the environment variable, else the public one.
pub fn base_url(opts: &SyncOptions) -> String {
    opts.base_url
        .clone()
        .or_else(|| std::env::var(opts.provider.env_var()).ok())
        .unwrap_or_else(|| opts.provider.default_base().to_string())
        .trim_end_matches('/')
        .to_string()
}

/// Discovers the files of the options' products and time range. `source` is the requester-pays
/// bucket client (Landsat).
pub async fn discover(
    http: &Arc<Http>,
    opts: &SyncOptions,
    source: Option<&Arc<crate::requester_pays::RequesterPays>>,
) -> crate::Result<Found> {
    let mut found = Found::default();
    if let Some([w, s, e, n]) = opts.bbox {
        let [cw, cs, ce, cn] = opts.provider.coverage();
        if w > ce || e < cw || s > cn || n < cs {
            found.notes.push(format!(
                "the box {w},{s},{e},{n} is outside the provider's coverage {cw},{cs},{ce},{cn}: nothing to sync"
            ));
            return Ok(found);
        }
    }
    let base = base_url(opts);
    let candidates = match opts.provider {
        Provider::Chirps => chirps(http, opts, &base, &mut found).await?,
        Provider::Gridmet => gridmet(opts, &base)?,
        Provider::Modis | Provider::Imerg => {
            // CMR gave sizes and checksums: no HEAD (it would run the login flow per file).
            found.files =
                crate::earthdata::discover(http, opts, &base, &mut found.failures).await?;
            found.validated = true;
            return Ok(found);
        }
        Provider::Landsat => {
            let source = source.ok_or_else(|| crate::Error::Setup {
                object: "s3://usgs-landsat".into(),
                message: "no client for the requester-pays bucket".into(),
            })?;
            found.files =
                crate::landsat::discover(http, source, opts, &base, &mut found.failures).await?;
            found.validated = true;
            return Ok(found);
        }
    };
    found.files = candidates;
    Ok(found)
}

/// HEADs these files (bounded by the per-host limit) for their size, ETag and Last-Modified; one
/// result per file, in order (a failure is (URL, reason)).
pub async fn head_all(
    http: &Arc<Http>,
    files: Vec<Remote>,
) -> crate::Result<Vec<Result<Remote, (String, String)>>> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, r) in files.into_iter().enumerate() {
        let http = http.clone();
        tasks.spawn(async move {
            let _p = http.permit(&r.url).await;
            (i, head(&http, r).await)
        });
    }
    let mut heads = Vec::new();
    while let Some(j) = tasks.join_next().await {
        heads.push(j.map_err(|e| crate::Error::Setup {
            object: "discovery".into(),
            message: e.to_string(),
        })?);
    }
    heads.sort_by_key(|(i, _)| *i);
    Ok(heads.into_iter().map(|(_, h)| h).collect())
}

/// HEAD of one file: its size, ETag and Last-Modified.
async fn head(http: &Http, mut r: Remote) -> Result<Remote, (String, String)> {
    let resp = http
        .send("HEAD", &r.url, &[])
        .await
        .map_err(|e| (r.url.clone(), crate::secrets::redact_urls(&e)))?;
    let s = resp.status();
    if !s.is_success() {
        let hint = if s.as_u16() == 404 {
            " (not published)"
        } else {
            ""
        };
        return Err((r.url.clone(), format!("HEAD: HTTP {s}{hint}")));
    }
    let h = |n: hyper::header::HeaderName| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    r.size = h(hyper::header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    r.etag = h(hyper::header::ETAG);
    r.last_modified =
        h(hyper::header::LAST_MODIFIED).and_then(|v| httpdate::parse_http_date(&v).ok());
    Ok(r)
}

/// A listing page's entries; `None` when the folder does not exist (404).
async fn listing(http: &Http, url: &str) -> Result<Option<Vec<String>>, String> {
    use http_body_util::BodyExt;
    let _p = http.permit(url).await;
    let resp = http.send("GET", url, &[]).await?;
    let s = resp.status();
    if s.as_u16() == 404 {
        return Ok(None);
    }
    if !s.is_success() {
        return Err(format!("listing: HTTP {s}"));
    }
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("listing: {e}"))?
        .to_bytes();
    Ok(Some(crate::listing::entries(&String::from_utf8_lossy(
        &body,
    ))))
}

/// `chirps-v2.0.YYYY.MM.DD.<ext>` → (date, ext).
fn chirps_day(name: &str) -> Option<(NaiveDate, &str)> {
    let rest = name.strip_prefix("chirps-v2.0.")?;
    let date = NaiveDate::parse_from_str(rest.get(..10)?, "%Y.%m.%d").ok()?;
    let ext = &rest[10..];
    matches!(ext, ".tif" | ".tif.gz" | ".cog").then_some((date, ext))
}

async fn chirps(
    http: &Http,
    opts: &SyncOptions,
    base: &str,
    found: &mut Found,
) -> crate::Result<Vec<Remote>> {
    const PRODUCT: &str = "chirps_v2_daily_p05";
    if let Some(p) = opts.products.iter().find(|p| *p != PRODUCT) {
        return Err(crate::Error::Usage(format!(
            "--product {p}: CHIRPS syncs {PRODUCT} (daily, 0.05°)"
        )));
    }
    let mut out = Vec::new();
    let kind = if opts.cog { "cogs" } else { "tifs" };
    for year in crate::time_range::years(opts.time) {
        let mut days: std::collections::BTreeMap<NaiveDate, (String, &'static str)> =
            Default::default();
        // Final first: a day it has is not taken from the preliminary folder.
        for (dir, maturity) in [
            (format!("global_daily/{kind}/p05/{year}/"), "final"),
            (format!("prelim/global_daily/tifs/p05/{year}/"), "interim"),
        ] {
            let url = format!("{base}/{dir}");
            let names = match listing(http, &url).await {
                Ok(Some(n)) => n,
                Ok(None) => continue,
                Err(e) => {
                    found.failures.push((url, e));
                    continue;
                }
            };
            // Per day, the plain GeoTIFF when both it and the gzipped one are listed.
            let mut picked: std::collections::BTreeMap<NaiveDate, &str> = Default::default();
            for name in &names {
                let Some((date, ext)) = chirps_day(name) else {
                    continue;
                };
                if date < opts.time.0 || date > opts.time.1 || days.contains_key(&date) {
                    continue;
                }
                let better = match picked.get(&date) {
                    None => true,
                    Some(prev) => ext == ".tif" && !prev.ends_with(".tif"),
                };
                if better {
                    picked.insert(date, name);
                }
            }
            for (date, name) in picked {
                days.insert(date, (format!("{dir}{name}"), maturity));
            }
        }
        for (rel, maturity) in days.into_values() {
            out.push(Remote {
                url: format!("{base}/{rel}"),
                rel: format!("CHIRPS-2.0/{rel}"),
                product: PRODUCT.into(),
                maturity: Some(maturity),
                size: None,
                etag: None,
                last_modified: None,
                checksum: None,
                direct: None,
            });
        }
    }
    Ok(out)
}

fn gridmet(opts: &SyncOptions, base: &str) -> crate::Result<Vec<Remote>> {
    if opts.products.is_empty() {
        return Err(crate::Error::Usage(
            "gridMET: name the products, e.g. --product gridmet_pr --product gridmet_pet".into(),
        ));
    }
    let mut out = Vec::new();
    for p in &opts.products {
        let var = p
            .strip_prefix("gridmet_")
            .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric()))
            .ok_or_else(|| {
                crate::Error::Usage(format!(
                    "--product {p}: gridMET products are named gridmet_<variable> (gridmet_pr, gridmet_pet, gridmet_tmmn, …)"
                ))
            })?;
        for year in crate::time_range::years(opts.time) {
            out.push(Remote {
                url: format!("{base}/{var}_{year}.nc"),
                rel: format!("gridmet/{var}_{year}.nc"),
                product: p.clone(),
                maturity: None,
                size: None,
                etag: None,
                last_modified: None,
                checksum: None,
                direct: None,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chirps_names() {
        let d = NaiveDate::from_ymd_opt(2023, 1, 2).unwrap();
        assert_eq!(
            chirps_day("chirps-v2.0.2023.01.02.tif.gz"),
            Some((d, ".tif.gz"))
        );
        assert_eq!(chirps_day("chirps-v2.0.2023.01.02.cog"), Some((d, ".cog")));
        assert_eq!(chirps_day("chirps-v2.0.2023.01.2.tif.gz"), None);
        assert_eq!(chirps_day("chirps-v2.0.2023.01.02.tif.gz.md5"), None);
        assert_eq!(chirps_day("chirps-v2.0.2023.13.02.tif"), None);
    }
}
