//! Verification of a downloaded file before it enters the lake: the provider's checksum (MD5,
//! SHA-256, SHA-512) when it publishes one, else the size it declared. A file that fails is never
//! placed.
use crate::Checksum;
use md5::Digest;
use std::io::Read;
use std::path::Path;

fn digest<D: Digest>(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = D::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks `path` against the declared size and checksum; returns how it was verified
/// (`md5`, `sha256`, `sha512` or `size`), or why it failed.
pub fn verify(
    path: &Path,
    size: Option<u64>,
    checksum: Option<&Checksum>,
) -> Result<String, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    if let Some(s) = size {
        if len != s {
            return Err(format!(
                "size mismatch: received {len} bytes, the provider declared {s}"
            ));
        }
    }
    if let Some(c) = checksum {
        let algo = c.algorithm.to_ascii_lowercase().replace(['-', '_'], "");
        let got = match algo.as_str() {
            "md5" => digest::<md5::Md5>(path),
            "sha256" => digest::<sha2::Sha256>(path),
            "sha512" => digest::<sha2::Sha512>(path),
            other => return Err(format!("checksum algorithm {other:?} is not supported")),
        }
        .map_err(|e| format!("{}: {e}", path.display()))?;
        if !got.eq_ignore_ascii_case(c.value.trim()) {
            return Err(format!(
                "{} checksum mismatch: computed {got}, the provider published {}",
                c.algorithm, c.value
            ));
        }
        return Ok(algo);
    }
    match size {
        Some(_) => Ok("size".into()),
        None => {
            Err("nothing to verify against: the provider declared neither size nor checksum".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_and_sizes_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        let c = |a: &str, v: &str| Checksum {
            algorithm: a.into(),
            value: v.into(),
        };
        // Published digests of "abc" (RFC 1321 appendix A.5; FIPS 180-2 appendices B.1 and C.1).
        assert_eq!(
            verify(
                &p,
                Some(3),
                Some(&c("MD5", "900150983cd24fb0d6963f7d28e17f72"))
            )
            .unwrap(),
            "md5"
        );
        assert_eq!(
            verify(
                &p,
                None,
                Some(&c(
                    "SHA-256",
                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
                ))
            )
            .unwrap(),
            "sha256"
        );
        assert_eq!(
            verify(
                &p,
                Some(3),
                Some(&c(
                    "SHA-512",
                    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                     2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
                ))
            )
            .unwrap(),
            "sha512"
        );
        let e = verify(
            &p,
            Some(3),
            Some(&c("MD5", "00000000000000000000000000000000")),
        )
        .unwrap_err();
        assert!(e.contains("checksum mismatch"), "{e}");
        assert!(verify(&p, Some(4), None)
            .unwrap_err()
            .contains("size mismatch"));
        assert_eq!(verify(&p, Some(3), None).unwrap(), "size");
    }
}
