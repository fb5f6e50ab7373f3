//! etlake reaches a Postgres server that accepts only TLS connections, as libpq's `sslmode` says:
//! `prefer`/`require` encrypt, `verify-ca` checks the chain, `verify-full` also the host name, and a
//! wrong root or host is refused with the reason; `disable` gets the server's refusal.
mod common;
use common::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::os::unix::fs::PermissionsExt;

/// A certificate authority: its PEM certificate and what signs with it.
fn authority(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let pem = p.self_signed(&key).unwrap().pem();
    (pem, Issuer::new(p, key))
}

#[test]
fn sslmodes_against_a_server_that_requires_tls() {
    let pg = Cluster::start();
    let data = pg.embedded.root().join("data");
    // The server's certificate names localhost only, signed by our CA.
    let (ca_pem, ca) = authority("etlake test CA");
    let (other_pem, _) = authority("some other CA");
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = p.signed_by(&key, &ca).unwrap();
    std::fs::write(data.join("server.crt"), cert.pem()).unwrap();
    std::fs::write(data.join("server.key"), key.serialize_pem()).unwrap();
    std::fs::set_permissions(
        data.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    if catalog_schema::embedded::is_root() {
        let status = std::process::Command::new("chown")
            .args(["postgres:postgres", "server.crt", "server.key"])
            .current_dir(&data)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let append = |file: &str, text: &str, first: bool| {
        let path = data.join(file);
        let old = std::fs::read_to_string(&path).unwrap();
        let new = if first {
            format!("{text}{old}")
        } else {
            format!("{old}{text}")
        };
        std::fs::write(&path, new).unwrap();
    };
    append(
        "postgresql.conf",
        "\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
        false,
    );
    // Plain TCP connections are rejected outright.
    append("pg_hba.conf", "hostnossl all all all reject\n", true);
    connect(&pg.url)
        .batch_execute("SELECT pg_reload_conf()")
        .unwrap();
    for _ in 0..50 {
        let on: String = connect(&pg.url).query_one("SHOW ssl", &[]).unwrap().get(0);
        if on == "on" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    let certs = tempdir();
    let (ca_file, other_file) = (certs.path().join("ca.pem"), certs.path().join("other.pem"));
    std::fs::write(&ca_file, &ca_pem).unwrap();
    std::fs::write(&other_file, &other_pem).unwrap();
    let tcp = pg.embedded.tcp_url().unwrap();
    let url = |host: &str, query: String| {
        catalog_schema::DbUrl::parse(&format!(
            "postgresql://postgres:{}@{host}:{}/{}?{query}",
            tcp.password.as_deref().unwrap(),
            tcp.port.unwrap(),
            tcp.dbname.as_deref().unwrap()
        ))
        .unwrap()
    };
    let (ca, other) = (ca_file.display(), other_file.display());
    let cases: Vec<(&str, String, Result<(), &str>)> = vec![
        ("127.0.0.1", "sslmode=disable".into(), Err("no encryption")),
        ("127.0.0.1", "application_name=x".into(), Ok(())),
        ("127.0.0.1", "sslmode=require".into(), Ok(())),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            Ok(()),
        ),
        (
            "127.0.0.1",
            format!("sslmode=verify-ca&sslrootcert={ca}"),
            Ok(()),
        ),
        (
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={ca}"),
            Err("certificate"),
        ),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={other}"),
            Err("certificate"),
        ),
        (
            "localhost",
            format!("sslmode=require&sslrootcert={other}"),
            Err("certificate"),
        ),
        (
            "localhost",
            "sslmode=verify-full".into(),
            Err("sslrootcert"),
        ),
    ];
    for (host, query, expected) in cases {
        let u = url(host, query.clone());
        let out = etlake(&u, &["db", "check"]);
        let printed = text(&out);
        match expected {
            Ok(()) => {
                assert!(
                    printed.contains("Valid connection:\tYES"),
                    "{host} {query}: {printed}"
                );
                assert!(
                    printed.contains("Encryption:    TLSv1.3"),
                    "{host} {query}: {printed}"
                );
            }
            Err(reason) => {
                eprintln!(
                    "{host} {query}: {}",
                    printed.trim_end().lines().last().unwrap_or("")
                );
                assert_ne!(out.status.code(), Some(0), "{host} {query}: {printed}");
                assert!(
                    printed.contains(reason),
                    "{host} {query}: expected {reason:?} in {printed}"
                );
            }
        }
    }
}
