//! TLS to Postgres as libpq spells it: `sslmode` (disable, allow, prefer, require, verify-ca,
//! verify-full) and `sslrootcert` from the URL or `PGSSLMODE`/`PGSSLROOTCERT`, over rustls.
//!
//! As in libpq: `prefer` (the default) encrypts when the server offers TLS; `require` encrypts without
//! checking the certificate unless a root certificate is given (then as `verify-ca`); `verify-ca`
//! checks the chain; `verify-full` also the host name. `sslrootcert=system` trusts the system's roots.
use crate::{DbUrl, Error, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;

/// libpq's `sslmode` values (`allow` behaves as `prefer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain connections only.
    Disable,
    /// TLS when the server offers it, certificate not checked.
    Prefer,
    /// TLS or no connection; certificate checked only against a given root.
    Require,
    /// TLS with the certificate chain checked against the root certificates.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host connected to.
    VerifyFull,
}

impl Mode {
    /// The libpq spelling.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }
}

/// Where the trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    /// None given (and no `~/.postgresql/root.crt`).
    None,
    /// The operating system's store (`sslrootcert=system`).
    System,
    /// A PEM file of certificates.
    File(PathBuf),
}

/// The TLS settings of one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How much TLS to insist on.
    pub mode: Mode,
    /// The roots certificates are checked against.
    pub roots: Roots,
}

impl Settings {
    /// From the URL's `sslmode`/`sslrootcert`, else `PGSSLMODE`/`PGSSLROOTCERT`, else libpq's
    /// defaults (`prefer`; `~/.postgresql/root.crt` when it exists).
    pub fn of(url: &DbUrl) -> Result<Settings> {
        let param = |k: &str, env: &str| {
            url.params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .or_else(|| std::env::var(env).ok().filter(|v| !v.is_empty()))
        };
        let mode = match param("sslmode", "PGSSLMODE").as_deref() {
            None | Some("prefer") | Some("allow") => Mode::Prefer,
            Some("disable") => Mode::Disable,
            Some("require") => Mode::Require,
            Some("verify-ca") => Mode::VerifyCa,
            Some("verify-full") => Mode::VerifyFull,
            Some(other) => {
                return Err(Error::Config(format!(
                    "sslmode={other} in {}: use disable, allow, prefer, require, verify-ca or verify-full",
                    url.redacted()
                )))
            }
        };
        let roots = match param("sslrootcert", "PGSSLROOTCERT") {
            Some(v) if v == "system" => Roots::System,
            Some(v) => Roots::File(PathBuf::from(v)),
            None => std::env::var("HOME")
                .map(|h| PathBuf::from(h).join(".postgresql/root.crt"))
                .ok()
                .filter(|p| p.is_file())
                .map_or(Roots::None, Roots::File),
        };
        Ok(Settings { mode, roots })
    }

    /// The client's `sslmode` as tokio-postgres knows it.
    pub fn pg_mode(&self) -> postgres::config::SslMode {
        use postgres::config::SslMode;
        match self.mode {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            _ => SslMode::Require,
        }
    }

    /// The rustls connector for these settings.
    pub fn connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
        let verify = match (self.mode, &self.roots) {
            (Mode::VerifyCa | Mode::VerifyFull, Roots::None) => {
                return Err(Error::Config(
                    "sslmode=verify-ca/verify-full needs the root certificate to trust: add \
                     sslrootcert=/path/to/ca.pem (or sslrootcert=system) to the URL, or set PGSSLROOTCERT"
                        .into(),
                ))
            }
            (Mode::Disable | Mode::Prefer, _) | (Mode::Require, Roots::None) => None,
            (mode, roots) => Some((mode, self.root_store(roots)?)),
        };
        let config = match verify {
            None => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
                .with_no_client_auth(),
            Some((mode, store)) => {
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider)
                    .build()
                    .map_err(|e| Error::Config(format!("TLS root certificates: {e}")))?;
                let verifier: Arc<dyn ServerCertVerifier> = if mode == Mode::VerifyFull {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                };
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth()
            }
        };
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }

    fn root_store(&self, roots: &Roots) -> Result<RootCertStore> {
        let mut store = RootCertStore::empty();
        match roots {
            Roots::None => {}
            Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                for c in found.certs {
                    let _ = store.add(c);
                }
            }
            Roots::File(path) => {
                let bad = |m: String| Error::Config(format!("sslrootcert {}: {m}", path.display()));
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                    .map_err(|e| bad(e.to_string()))?
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| bad(e.to_string()))?;
                for c in certs {
                    store.add(c).map_err(|e| bad(e.to_string()))?;
                }
            }
        }
        if store.is_empty() {
            return Err(Error::Config(format!(
                "no root certificate found in {roots:?} to check the server's certificate"
            )));
        }
        Ok(store)
    }
}

/// `prefer` and `require` without a root: any certificate, but the handshake's signatures are still
/// checked (the session is encrypted to whoever holds the certificate's key).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not compared.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(q: &str) -> DbUrl {
        DbUrl::parse(&format!("postgresql://u@db.example.com/x{q}")).unwrap()
    }

    #[test]
    fn modes_follow_libpq() {
        assert_eq!(
            Settings::of(&url("?sslmode=allow")).unwrap().mode,
            Mode::Prefer
        );
        assert_eq!(
            Settings::of(&url("?sslmode=verify-full")).unwrap().mode,
            Mode::VerifyFull
        );
        assert!(Settings::of(&url("?sslmode=on")).is_err());
        let s = Settings::of(&url("?sslmode=verify-ca&sslrootcert=system")).unwrap();
        assert_eq!(s.roots, Roots::System);
        // Verification without any root is refused with a hint, not attempted.
        let none = Settings {
            mode: Mode::VerifyFull,
            roots: Roots::None,
        };
        let err = none.connector().err().unwrap().to_string();
        assert!(err.contains("sslrootcert"), "{err}");
    }
}
