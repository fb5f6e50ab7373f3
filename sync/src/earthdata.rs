//! The Earthdata providers, found through CMR (`cmr.rs`) and downloaded with Earthdata Login:
//! - **MODIS** from LP DAAC: MOD13Q1 v061 by default, any LP DAAC collection with
//!   `--product SHORTNAME.VVV` (e.g. `MOD09A1.061`). Placed as LP DAAC's cloud archive lays them out
//!   (`lp-prod-protected/{ESDT}.{CCC}/{GranuleUR}/{file}`, data-families.md §2.2), i.e.
//!   `{ESDT}.{CCC}/{GranuleUR}/{GranuleUR}.hdf`, with the `.hdf.xml` sidecar when the record lists it.
//! - **GPM IMERG V07** from GES DISC: daily Final `GPM_3IMERGDF.07` by default, half-hourly
//!   `GPM_3IMERGHH.07` by `--product`. Placed as GES DISC lays them out (data-families.md §3.4):
//!   `GPM_L3/{SHORT}.07/{YYYY}/{MM}/…nc4` (daily), `GPM_L3/{SHORT}.07/{YYYY}/{DDD}/…HDF5` (half-hourly).
//!
//! The file names are the provider's own, which is what the recognition specs
//! (product-defs/recognition/mod13q1_061.yaml, gpm_imerg_day_v07.yaml) match.
use crate::cmr::{self, GranuleFile, Query};
use crate::http::Http;
use crate::{Provider, Remote, SyncOptions};

/// The default collection of a provider, as `SHORTNAME.VERSION`.
pub fn default_product(p: Provider) -> &'static str {
    match p {
        Provider::Imerg => "GPM_3IMERGDF.07",
        _ => "MOD13Q1.061",
    }
}

/// `SHORTNAME.VERSION` → (short name, version).
pub fn split_product(p: &str) -> Option<(&str, &str)> {
    let (s, v) = p.rsplit_once('.')?;
    let ok = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (ok(s) && ok(v)).then_some((s, v))
}

/// The ODC product a collection's files are indexed as (`mod13q1_061`, `gpm_imerg_day_v07`).
fn odc_product(provider: Provider, short: &str, version: &str) -> String {
    match (provider, short) {
        (Provider::Imerg, s) if s.starts_with("GPM_3IMERGD") => format!("gpm_imerg_day_v{version}"),
        (Provider::Imerg, _) => format!("gpm_imerg_hhr_v{version}"),
        _ => format!("{}_{version}", short.to_ascii_lowercase()),
    }
}

/// The file's place in the lake, in the DAAC's own layout.
fn rel_of(provider: Provider, short: &str, version: &str, f: &GranuleFile) -> String {
    let coll = format!("{short}.{version}");
    match provider {
        Provider::Imerg => {
            // GES DISC URLs are `…/data/GPM_L3/{coll}/{YYYY}/{MM or DDD}/{file}`: keep that part.
            let path = crate::http::public(&f.url);
            if let Some(i) = path.find(&format!("/{coll}/")) {
                return format!("GPM_L3{}", &path[i..]);
            }
            let day = f
                .begin
                .as_deref()
                .and_then(|b| b.get(..10))
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
            match day {
                Some(d) if short.starts_with("GPM_3IMERGD") => {
                    format!("GPM_L3/{coll}/{}/{}", d.format("%Y/%m"), f.name)
                }
                Some(d) => format!("GPM_L3/{coll}/{}/{}", d.format("%Y/%j"), f.name),
                None => format!("GPM_L3/{coll}/{}", f.name),
            }
        }
        _ => {
            let granule = if f.granule.is_empty() {
                f.name.split(".hdf").next().unwrap_or(&f.name)
            } else {
                f.granule.as_str()
            };
            format!("{coll}/{granule}/{}", f.name)
        }
    }
}

/// Searches CMR for every requested collection; the files with CMR's sizes and checksums.
pub async fn discover(
    http: &Http,
    opts: &SyncOptions,
    cmr_url: &str,
    failures: &mut Vec<(String, String)>,
) -> crate::Result<Vec<Remote>> {
    let products: Vec<String> = if opts.products.is_empty() {
        vec![default_product(opts.provider).to_string()]
    } else {
        opts.products.clone()
    };
    let mut out = Vec::new();
    for p in &products {
        let (short, version) = split_product(p).ok_or_else(|| {
            crate::Error::Usage(format!(
                "--product {p}: name a collection as SHORTNAME.VERSION, e.g. {}",
                default_product(opts.provider)
            ))
        })?;
        let q = Query {
            short_name: short.into(),
            version: version.into(),
            time: opts.time,
            bbox: opts.bbox,
            page_size: opts.page_size.max(1),
        };
        let files = match cmr::search(http, cmr_url, &q).await {
            Ok(f) => f,
            Err(e) => {
                failures.push((crate::http::public(&q.url(cmr_url)).to_string(), e));
                continue;
            }
        };
        if files.is_empty() {
            tracing::info!("CMR: no granule of {p} in the range");
        }
        let product = odc_product(opts.provider, short, version);
        for f in files {
            out.push(Remote {
                rel: rel_of(opts.provider, short, version, &f),
                url: f.url,
                product: product.clone(),
                maturity: None,
                size: f.size,
                etag: None,
                last_modified: None,
                checksum: f.checksum,
                direct: f.s3.filter(|_| opts.direct_s3.is_some()),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_follow_the_daacs() {
        let g = "MOD13Q1.A2023161.h29v09.061.2023177233537";
        let f = GranuleFile {
            granule: g.into(),
            url: format!("https://data.example/lp-prod-protected/MOD13Q1.061/{g}/{g}.hdf"),
            name: format!("{g}.hdf"),
            size: None,
            checksum: None,
            begin: None,
            s3: None,
        };
        assert_eq!(
            rel_of(Provider::Modis, "MOD13Q1", "061", &f),
            format!("MOD13Q1.061/{g}/{g}.hdf")
        );
        let n = "3B-DAY.MS.MRG.3IMERG.20240115-S000000-E235959.V07B.nc4";
        let mut i = GranuleFile {
            granule: n.into(),
            url: format!("https://gesdisc.example/data/GPM_L3/GPM_3IMERGDF.07/2024/01/{n}"),
            name: n.into(),
            size: None,
            checksum: None,
            begin: Some("2024-01-15T00:00:00.000Z".into()),
            s3: None,
        };
        let want = format!("GPM_L3/GPM_3IMERGDF.07/2024/01/{n}");
        assert_eq!(rel_of(Provider::Imerg, "GPM_3IMERGDF", "07", &i), want);
        i.url = format!("https://other.example/x/{n}");
        assert_eq!(rel_of(Provider::Imerg, "GPM_3IMERGDF", "07", &i), want);
        assert_eq!(split_product("MOD13Q1.061"), Some(("MOD13Q1", "061")));
        assert_eq!(split_product("MOD13Q1"), None);
        assert_eq!(
            odc_product(Provider::Modis, "MOD13Q1", "061"),
            "mod13q1_061"
        );
        assert_eq!(
            odc_product(Provider::Imerg, "GPM_3IMERGDF", "07"),
            "gpm_imerg_day_v07"
        );
    }
}
