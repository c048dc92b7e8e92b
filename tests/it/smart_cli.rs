//! `ikp client add|list|remove` and `ikp keys rotate`, run as the binary against a database.

use std::process::Command;

fn ikp(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ikp")).args(args).output().expect("run ikp");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn clients_and_keys_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let url = format!("sqlite://{}/ikp.db", dir.path().display());
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, r#"{"keys":[{"kty":"EC","crv":"P-384","kid":"k1","x":"a","y":"b"}]}"#).expect("write");

    let (ok, _, err) = ikp(&[
        "client",
        "add",
        "--database-url",
        &url,
        "--client-id",
        "web",
        "--type",
        "public",
        "--redirect-uri",
        "https://app.example/cb",
        "--redirect-uri",
        "https://app.example/cb2",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = ikp(&[
        "client",
        "add",
        "--database-url",
        &url,
        "--client-id",
        "conf",
        "--type",
        "symmetric",
        "--redirect-uri",
        "https://conf.example/cb",
        "--secret",
        "0123456789abcdef-secret",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = ikp(&[
        "client",
        "add",
        "--database-url",
        &url,
        "--client-id",
        "backend",
        "--type",
        "asymmetric",
        "--jwks",
        jwks.to_str().expect("path"),
        "--scopes",
        "system/*.rs",
    ]);
    assert!(ok, "{err}");
    // Refusals: a short secret, an asymmetric client without keys, a duplicate id.
    let (ok, _, _) = ikp(&[
        "client",
        "add",
        "--database-url",
        &url,
        "--client-id",
        "weak",
        "--type",
        "symmetric",
        "--redirect-uri",
        "https://x.example/cb",
        "--secret",
        "short",
    ]);
    assert!(!ok);
    let (ok, _, _) = ikp(&["client", "add", "--database-url", &url, "--client-id", "nokeys", "--type", "asymmetric"]);
    assert!(!ok);
    let (ok, _, _) = ikp(&[
        "client",
        "add",
        "--database-url",
        &url,
        "--client-id",
        "web",
        "--type",
        "public",
        "--redirect-uri",
        "https://a.example/",
    ]);
    assert!(!ok);

    let (ok, out, _) = ikp(&["client", "list", "--database-url", &url]);
    assert!(ok);
    assert!(out.contains("web\tpublic\thttps://app.example/cb,https://app.example/cb2"), "{out}");
    assert!(out.contains("backend\tasymmetric") && out.contains("system/*.rs"), "{out}");
    // The secret is stored only as a hash.
    for file in ["ikp.db", "ikp.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(!bytes.windows(b"0123456789abcdef-secret".len()).any(|w| w == b"0123456789abcdef-secret"), "{file}");
    }
    let (ok, _, _) = ikp(&["client", "remove", "--database-url", &url, "--client-id", "web"]);
    assert!(ok);
    let (ok, _, _) = ikp(&["client", "remove", "--database-url", &url, "--client-id", "web"]);
    assert!(!ok, "removing an unknown client fails");
    let (_, out, _) = ikp(&["client", "list", "--database-url", &url]);
    assert!(!out.contains("web\t"), "{out}");

    let (ok, first, err) = ikp(&["keys", "rotate", "--database-url", &url]);
    assert!(ok, "{err}");
    let (ok, second, _) = ikp(&["keys", "rotate", "--database-url", &url]);
    assert!(ok);
    assert!(first.starts_with("now signing with key ") && first != second);
}
