//! Apache-style directory listings (`Index of /…` pages, as CHIRPS's server and gridMET's serve):
//! the names a page links to, below itself. Sort links (`?C=N;O=D`), the parent directory and
//! absolute or off-site links are left out; `%xx` escapes are decoded.
/// The entries a listing page links to (directories keep their trailing `/`).
pub fn entries(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(i) = lower[at..].find("href=") {
        let start = at + i + 5;
        let bytes = html.as_bytes();
        let (quote, from) = match bytes.get(start) {
            Some(b'"') => (Some('"'), start + 1),
            Some(b'\'') => (Some('\''), start + 1),
            _ => (None, start),
        };
        let rest = &html[from..];
        let end = match quote {
            Some(q) => rest.find(q),
            None => rest.find(|c: char| c.is_whitespace() || c == '>'),
        };
        let Some(end) = end else { break };
        let href = &rest[..end];
        at = from + end;
        if href.is_empty()
            || href.starts_with('?')
            || href.starts_with('/')
            || href.starts_with('#')
            || href.contains("://")
            || href.starts_with("..")
            || href.starts_with("mailto:")
        {
            continue;
        }
        let name = decode(href.trim_start_matches("./"));
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apache_index_entries() {
        // The shape of Apache httpd's mod_autoindex "fancy" listing (HTML 3.2 table).
        let page = r#"<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /products/CHIRPS-2.0/global_daily/tifs/p05/2023</title></head><body>
<h1>Index of /products/CHIRPS-2.0/global_daily/tifs/p05/2023</h1>
<table><tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th></tr>
<tr><td><a href="/products/CHIRPS-2.0/global_daily/tifs/p05/">Parent Directory</a></td></tr>
<tr><td><a href="chirps-v2.0.2023.01.01.tif.gz">chirps-v2.0.2023.01.01.tif.gz</a></td><td>2023-02-20 10:01</td><td>1.1M</td></tr>
<tr><td><a href='chirps-v2.0.2023.01.02.tif.gz'>chirps-v2.0.2023.01.02.tif.gz</a></td></tr>
<tr><td><A HREF="sub%20dir/">sub dir/</A></td></tr>
<tr><td><a href="https://elsewhere.example/x.tif">off site</a></td></tr>
</table></body></html>"#;
        assert_eq!(
            entries(page),
            [
                "chirps-v2.0.2023.01.01.tif.gz",
                "chirps-v2.0.2023.01.02.tif.gz",
                "sub dir/"
            ]
        );
        assert!(entries("<html>no links</html>").is_empty());
        assert!(entries("<a href=\"unterminated").is_empty());
    }
}
