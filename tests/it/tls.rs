//! HTTPS served by the node itself (`--tls-cert`, `--tls-key`): a client that trusts the
//! certificate gets FHIR with `Strict-Transport-Security` and https URLs in discovery; plain HTTP
//! and TLS 1.1 are refused; SIGTERM still stops the server gracefully.

use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::extension::{ExtendedKeyUsage, SubjectAlternativeName};
use openssl::x509::{X509, X509NameBuilder};
use serde_json::Value;

use crate::common::process::{Running, free_port, run};
use crate::log_format::{json_lines, line_with};

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// A self-signed certificate for 127.0.0.1 and localhost, valid for a day.
fn self_signed(key: &PKey<Private>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "localhost").unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    let mut serial = BigNum::new().unwrap();
    serial.rand(64, MsbOption::MAYBE_ZERO, false).unwrap();
    builder.set_serial_number(&serial.to_asn1_integer().unwrap()).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(key).unwrap();
    builder.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    builder.set_not_after(&Asn1Time::days_from_now(1).unwrap()).unwrap();
    let names = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&builder.x509v3_context(None, None))
        .unwrap();
    builder.append_extension(names).unwrap();
    builder.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap()).unwrap();
    builder.sign(key, MessageDigest::sha256()).unwrap();
    builder.build()
}

/// Writes a certificate and its key as PEM files; their contents.
fn write_pair(dir: &Path) -> Vec<u8> {
    let key = key();
    let cert = self_signed(&key);
    let cert_pem = cert.to_pem().unwrap();
    std::fs::write(dir.join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    cert_pem
}

/// A TLS handshake with `127.0.0.1:port` by a client that offers at most `max`; the version agreed
/// or the error.
fn handshake(port: u16, max: SslVersion) -> Result<String, String> {
    let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
    builder.set_min_proto_version(None).unwrap();
    builder.set_max_proto_version(Some(max)).unwrap();
    // OpenSSL 3 will not even offer TLS 1.1 at its default security level; level 0 makes this
    // client a real old one, so that the refusal tested is the server's.
    builder.set_security_level(0);
    builder.set_verify(SslVerifyMode::NONE);
    let connector = builder.build();
    let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut configuration = connector.configure().unwrap();
    configuration.set_verify_hostname(false);
    match configuration.connect("localhost", tcp) {
        Ok(stream) => Ok(stream.ssl().version_str().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test]
async fn https_with_hsts_and_tls_1_2_at_least() {
    let dir = tempfile::tempdir().unwrap();
    let cert_pem = write_pair(dir.path());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let database = format!("sqlite://{}/ikp.db", dir.path().display());
    let mut server = Running::start(
        dir.path(),
        &[
            "serve",
            "--listen",
            &listen,
            "--database-url",
            &database,
            "--store-terminology",
            "false",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ],
        &[("RUST_LOG", "info,sqlx=warn"), ("IKP_LOG_FORMAT", "json")],
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert_pem).unwrap())
        .build()
        .unwrap();
    let base = format!("https://{listen}/fhir");
    server.wait_ready(&client, &format!("{base}/metadata")).await;

    let response = client.get(format!("{base}/metadata")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000");
    let metadata: Value = response.json().await.unwrap();
    assert_eq!(metadata["resourceType"], "CapabilityStatement");

    // With no --base-url, the public URLs are https ones.
    let smart: Value =
        client.get(format!("{base}/.well-known/smart-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(smart["authorization_endpoint"], format!("{base}/auth/authorize"), "{smart}");
    assert_eq!(smart["token_endpoint"], format!("{base}/auth/token"), "{smart}");

    // Errors carry the header too (it is added to every response).
    let missing = client.get(format!("{base}/Patient/nowhere")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["strict-transport-security"], "max-age=31536000");

    // Plain HTTP on the HTTPS port gets no answer.
    let plain = reqwest::Client::new().get(format!("http://{listen}/fhir/metadata")).send().await;
    assert!(plain.is_err(), "{plain:?}");

    // TLS 1.2 and 1.3 are served; a client that goes no higher than TLS 1.1 is refused.
    let (tls12, tls11, tls13) = tokio::task::spawn_blocking(move || {
        (handshake(port, SslVersion::TLS1_2), handshake(port, SslVersion::TLS1_1), handshake(port, SslVersion::TLS1_3))
    })
    .await
    .unwrap();
    assert_eq!(tls12.as_deref(), Ok("TLSv1.2"));
    assert_eq!(tls13.as_deref(), Ok("TLSv1.3"));
    let refused = tls11.expect_err("a TLS 1.1 client is refused");
    // The server's alert, not a client that could not offer TLS 1.1 in the first place.
    assert!(refused.contains("alert protocol version"), "{refused}");

    // The server is still fine after the refused handshakes, and stops gracefully with a
    // keep-alive connection open.
    let again = client.get(format!("{base}/metadata")).send().await.unwrap();
    assert_eq!(again.status(), 200);
    let (status, stderr) = server.stop();
    assert!(status.success(), "graceful stop: {status}\n{stderr}");
    let records = json_lines(&stderr);
    let ready = line_with(&records, "ikp FHIR server ready");
    assert_eq!(ready["fields"]["tls"], true);
    assert_eq!(ready["fields"]["base_url"], base.as_str());
    line_with(&records, "shutting down: stopping background work and closing the database");
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_before_start() {
    let dir = tempfile::tempdir().unwrap();
    write_pair(dir.path());
    std::fs::write(dir.path().join("other.pem"), key().private_key_to_pem_pkcs8().unwrap()).unwrap();
    std::fs::write(dir.path().join("junk.pem"), "not a certificate").unwrap();
    let output = run(dir.path(), &["config", "check", "--tls-cert", "cert.pem", "--tls-key", "other.pem"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--tls-key other.pem is not the key of the certificate in --tls-cert cert.pem"),
        "{stderr}"
    );
    let output = run(dir.path(), &["config", "check", "--tls-cert", "junk.pem", "--tls-key", "key.pem"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-cert junk.pem: no PEM certificate in the file"), "{stderr}");
    // Both or neither.
    let output = run(dir.path(), &["config", "check", "--tls-cert", "cert.pem"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key <TLS_KEY>"), "{stderr}");
    // `ikp serve` refuses the same before it opens the database.
    let output = run(dir.path(), &["serve", "--tls-cert", "cert.pem", "--tls-key", "other.pem"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("is not the key of the certificate"), "{stderr}");
    assert!(!dir.path().join("ikp-data").exists(), "the database was not created");
}

#[tokio::test]
async fn hsts_max_age_is_configurable_and_zero_turns_it_off() {
    use tower::ServiceExt;
    let app = || axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let request = || axum::http::Request::builder().uri("/").body(axum::body::Body::empty()).unwrap();
    let response = ikp::server::tls::with_hsts(app(), 600).oneshot(request()).await.unwrap();
    assert_eq!(response.headers()["strict-transport-security"], "max-age=600");
    let response = ikp::server::tls::with_hsts(app(), 0).oneshot(request()).await.unwrap();
    assert!(response.headers().get("strict-transport-security").is_none());
}
