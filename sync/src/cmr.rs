//! NASA's Common Metadata Repository (CMR) as the inventory of an Earthdata collection: LP DAAC and
//! GES DISC keep one S3 prefix per granule, so a LIST is no inventory; CMR's granule search is.
//!
//! The request is CMR's documented granule search
//! (<https://cmr.earthdata.nasa.gov/search/site/docs/search/api.html>, "Granule Search By Parameters"):
//! `GET {cmr}/search/granules.umm_json?short_name=S&version=V&temporal=A,B[&bounding_box=W,S,E,N]&page_size=N`.
//! Paging uses search-after ("Search After" in the same document): every response that has more
//! results carries a `CMR-Search-After` header, sent back unchanged as a request header for the next
//! page (with no `page_num`); the last page has no such header (or no items).
//!
//! Each item is a UMM-G record (UMM-G schema, <https://cdn.earthdata.nasa.gov/umm/granule/>):
//! `umm.RelatedUrls[]` with `Type: "GET DATA"` are the downloadable files (HTTPS; the `s3://` ones are
//! `GET DATA VIA DIRECT ACCESS`); `umm.DataGranule.ArchiveAndDistributionInformation[]` gives, per
//! file `Name`, `SizeInBytes` (exact) or `Size` + `SizeUnit` (rounded, so not used to verify) and
//! `Checksum { Value, Algorithm }` where `Algorithm` is one of UMM-G's enumeration (`MD5`, `SHA-256`,
//! `SHA-512`, … — `verify` supports those three).
use crate::http::Http;
use crate::Checksum;
use http_body_util::BodyExt;

/// The public CMR.
pub const DEFAULT_CMR: &str = "https://cmr.earthdata.nasa.gov";

/// One file of a granule, as CMR describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct GranuleFile {
    /// The granule's `GranuleUR` (e.g. `MOD13Q1.A2023161.h29v09.061.2023177233537`).
    pub granule: String,
    /// HTTPS download URL.
    pub url: String,
    /// The file name (last path segment of the URL).
    pub name: String,
    /// Exact size when the record gives `SizeInBytes`.
    pub size: Option<u64>,
    /// Checksum when the record gives one.
    pub checksum: Option<Checksum>,
    /// `umm.TemporalExtent.RangeDateTime.BeginningDateTime`, as written.
    pub begin: Option<String>,
    /// The same file's `GET DATA VIA DIRECT ACCESS` URL (`s3://bucket/key`), if listed.
    pub s3: Option<String>,
}

/// A granule search: collection, time range (inclusive days), optional box.
#[derive(Debug, Clone)]
pub struct Query {
    /// Collection short name (`MOD13Q1`, `GPM_3IMERGDF`).
    pub short_name: String,
    /// Collection version (`061`, `07`).
    pub version: String,
    /// First and last day, inclusive.
    pub time: (chrono::NaiveDate, chrono::NaiveDate),
    /// W,S,E,N.
    pub bbox: Option<[f64; 4]>,
    /// Items per page (CMR allows up to 2000).
    pub page_size: usize,
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Query {
    /// The first page's URL.
    pub fn url(&self, cmr: &str) -> String {
        let (a, b) = self.time;
        let temporal = format!(
            "{}T00:00:00Z,{}T23:59:59Z",
            a.format("%Y-%m-%d"),
            b.format("%Y-%m-%d")
        );
        let mut u = format!(
            "{}/search/granules.umm_json?short_name={}&version={}&temporal={}&page_size={}",
            cmr.trim_end_matches('/'),
            encode(&self.short_name),
            encode(&self.version),
            encode(&temporal),
            self.page_size
        );
        if let Some([w, s, e, n]) = self.bbox {
            u.push_str(&format!(
                "&bounding_box={}",
                encode(&format!("{w},{s},{e},{n}"))
            ));
        }
        u
    }
}

/// The files of one UMM-G record (`item.umm`): its `GET DATA` HTTPS URLs with size and checksum.
pub fn files_of(umm: &serde_json::Value) -> Vec<GranuleFile> {
    let granule = umm["GranuleUR"].as_str().unwrap_or_default().to_string();
    let begin = umm["TemporalExtent"]["RangeDateTime"]["BeginningDateTime"]
        .as_str()
        .map(str::to_string);
    // Per file name: (SizeInBytes, Checksum), from the archive information and any nested `Files`.
    let mut info: Vec<(String, Option<u64>, Option<Checksum>)> = Vec::new();
    let mut add = |e: &serde_json::Value| {
        let Some(name) = e["Name"].as_str() else {
            return;
        };
        let checksum = e["Checksum"]["Value"].as_str().map(|v| Checksum {
            algorithm: e["Checksum"]["Algorithm"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            value: v.to_ascii_lowercase(),
        });
        info.push((name.to_string(), e["SizeInBytes"].as_u64(), checksum));
    };
    if let Some(entries) = umm["DataGranule"]["ArchiveAndDistributionInformation"].as_array() {
        for e in entries {
            add(e);
            for f in e["Files"].as_array().into_iter().flatten() {
                add(f);
            }
        }
    }
    let related = umm["RelatedUrls"].as_array().cloned().unwrap_or_default();
    let direct = |name: &str| {
        related
            .iter()
            .filter(|r| r["Type"] == "GET DATA VIA DIRECT ACCESS")
            .filter_map(|r| r["URL"].as_str())
            .find(|u| u.starts_with("s3://") && u.rsplit('/').next() == Some(name))
            .map(str::to_string)
    };
    let mut out = Vec::new();
    for r in &related {
        let (Some(url), Some(kind)) = (r["URL"].as_str(), r["Type"].as_str()) else {
            continue;
        };
        if kind != "GET DATA" || !(url.starts_with("https://") || url.starts_with("http://")) {
            continue;
        }
        let name = url
            .split(['?', '#'])
            .next()
            .unwrap_or(url)
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if name.is_empty() || out.iter().any(|f: &GranuleFile| f.url == url) {
            continue;
        }
        let (size, checksum) = info
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, s, c)| (*s, c.clone()))
            .unwrap_or((None, None));
        out.push(GranuleFile {
            granule: granule.clone(),
            url: url.to_string(),
            size,
            checksum,
            begin: begin.clone(),
            s3: direct(&name),
            name,
        });
    }
    out
}

/// Runs the search over all pages; the files of every granule, in CMR's order.
pub async fn search(http: &Http, cmr: &str, q: &Query) -> Result<Vec<GranuleFile>, String> {
    let url = q.url(cmr);
    let mut after: Option<String> = None;
    let mut out = Vec::new();
    for page in 1.. {
        let mut headers = vec![("accept", "application/vnd.nasa.cmr.umm_results+json".into())];
        if let Some(a) = &after {
            headers.push(("cmr-search-after", a.clone()));
        }
        let resp = {
            let _p = http.permit(&url).await;
            http.send("GET", &url, &headers).await?
        };
        let status = resp.status();
        let next = resp
            .headers()
            .get("cmr-search-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("CMR search page {page}: {e}"))?
            .to_bytes();
        if !status.is_success() {
            // CMR's errors are `{"errors": [...]}`.
            let detail = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["errors"].as_array().cloned())
                .map(|e| {
                    e.iter()
                        .map(|x| x.as_str().map_or(x.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            return Err(format!(
                "CMR search for {} {} (page {page}): HTTP {status} {detail}",
                q.short_name, q.version
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            format!(
                "CMR search for {} {} (page {page}): not UMM JSON: {e}",
                q.short_name, q.version
            )
        })?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        tracing::debug!(
            "CMR {} {} page {page}: {} items",
            q.short_name,
            q.version,
            items.len()
        );
        for item in &items {
            out.extend(files_of(&item["umm"]));
        }
        match next {
            Some(n) if !items.is_empty() && after.as_deref() != Some(n.as_str()) => after = Some(n),
            _ => break,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_url_is_cmrs_granule_search() {
        let d = |y, m, dd| chrono::NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let q = Query {
            short_name: "MOD13Q1".into(),
            version: "061".into(),
            time: (d(2023, 6, 1), d(2023, 6, 30)),
            bbox: Some([-100.5, 30.0, -90.0, 40.0]),
            page_size: 2000,
        };
        assert_eq!(
            q.url("https://cmr.example/"),
            "https://cmr.example/search/granules.umm_json?short_name=MOD13Q1&version=061\
             &temporal=2023-06-01T00%3A00%3A00Z%2C2023-06-30T23%3A59%3A59Z&page_size=2000\
             &bounding_box=-100.5%2C30%2C-90%2C40"
        );
    }

    #[test]
    fn umm_g_files_carry_sizes_and_checksums() {
        // Shaped as an LP DAAC UMM-G record (UMM-G 1.6: RelatedUrls, DataGranule.ArchiveAndDistributionInformation).
        let g = "MOD13Q1.A2023161.h29v09.061.2023177233537";
        let umm = serde_json::json!({
            "GranuleUR": g,
            "TemporalExtent": {"RangeDateTime": {"BeginningDateTime": "2023-06-10T00:00:00.000Z"}},
            "DataGranule": {"ArchiveAndDistributionInformation": [
                {"Name": format!("{g}.hdf"), "SizeInBytes": 123, "Size": 0.1, "SizeUnit": "MB",
                 "Checksum": {"Value": "ABCDEF", "Algorithm": "MD5"}},
                {"Name": format!("{g}.hdf.xml"), "SizeInBytes": 45}
            ]},
            "RelatedUrls": [
                {"URL": format!("https://data.example/lp-prod-protected/MOD13Q1.061/{g}/{g}.hdf"), "Type": "GET DATA"},
                {"URL": format!("s3://lp-prod-protected/MOD13Q1.061/{g}/{g}.hdf"), "Type": "GET DATA VIA DIRECT ACCESS"},
                {"URL": format!("https://data.example/lp-prod-public/MOD13Q1.061/{g}/{g}.cmr.xml"), "Type": "EXTENDED METADATA"},
                {"URL": format!("https://data.example/lp-prod-protected/MOD13Q1.061/{g}/{g}.hdf.xml"), "Type": "GET DATA"}
            ]
        });
        let f = files_of(&umm);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].name, format!("{g}.hdf"));
        assert_eq!(f[0].size, Some(123));
        assert_eq!(
            f[0].checksum,
            Some(Checksum {
                algorithm: "MD5".into(),
                value: "abcdef".into()
            })
        );
        assert_eq!(f[1].name, format!("{g}.hdf.xml"));
        assert_eq!((f[1].size, f[1].checksum.is_none()), (Some(45), true));
        assert_eq!(f[0].begin.as_deref(), Some("2023-06-10T00:00:00.000Z"));
        assert_eq!(
            f[0].s3,
            Some(format!("s3://lp-prod-protected/MOD13Q1.061/{g}/{g}.hdf"))
        );
        assert_eq!(f[1].s3, None);
    }
}
