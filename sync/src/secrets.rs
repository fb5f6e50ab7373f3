//! Credentials, kept out of sight: a `.netrc` readable by other users is refused (curl and wget warn
//! about such files; we stop), credentials found are never printed (`Debug` redacts them), and URLs in
//! messages lose any `user:password@` part before they are logged or reported.
use std::path::{Path, PathBuf};

/// A login for one host.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// User name.
    pub user: String,
    /// Password (never printed).
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Login {{ user: {:?}, password: <redacted> }}", self.user)
    }
}

/// The `.netrc` in use: `$NETRC`, else `~/.netrc`.
pub fn netrc_path() -> Option<PathBuf> {
    std::env::var_os("NETRC")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".netrc")))
}

/// The login for `host` in the `.netrc` at `path`: `Ok(None)` when the file or the host is absent;
/// an error when the file can be read by group or others (its mode must be 0600 or stricter).
pub fn netrc_login(path: &Path, host: &str) -> Result<Option<Login>, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{}: refusing to read credentials from a file other users can access (mode {mode:04o}); \
             run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // Tokens: `machine NAME`, `default`, `login L`, `password P` (others, e.g. `macdef`, ignored).
    let mut words = text.split_whitespace();
    let mut matching = false;
    let mut login = Login {
        user: String::new(),
        password: String::new(),
    };
    while let Some(w) = words.next() {
        match w {
            "machine" | "default" => {
                if matching {
                    return Ok(Some(login));
                }
                matching =
                    w == "machine" && words.next().is_some_and(|m| m.eq_ignore_ascii_case(host));
                login.user.clear();
                login.password.clear();
            }
            "login" => login.user = words.next().unwrap_or_default().to_string(),
            "password" => login.password = words.next().unwrap_or_default().to_string(),
            _ => {}
        }
    }
    Ok(matching.then_some(login))
}

/// The text with `scheme://user:password@host` turned into `scheme://host` everywhere.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => out.push_str(&authority[at + 1..]),
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn netrc_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".netrc");
        std::fs::write(
            &p,
            "machine other.example login a password b\nmachine urs.earthdata.nasa.gov login me password s3cr3t\n",
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = netrc_login(&p, "urs.earthdata.nasa.gov").unwrap_err();
        assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let l = netrc_login(&p, "urs.earthdata.nasa.gov").unwrap().unwrap();
        assert_eq!((l.user.as_str(), l.password.as_str()), ("me", "s3cr3t"));
        assert!(!format!("{l:?}").contains("s3cr3t"));
        assert_eq!(netrc_login(&p, "nowhere.example").unwrap(), None);
        assert_eq!(netrc_login(&dir.path().join("absent"), "x").unwrap(), None);
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_urls("GET https://me:s3cr3t@data.example/x.tif failed; see http://h/y"),
            "GET https://data.example/x.tif failed; see http://h/y"
        );
    }
}
