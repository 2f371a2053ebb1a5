//! `fhir-server auth ...` as an administrator runs it: apps, users, keys and launches in the
//! database the server would use (`FHIR_DATA_DIR`).

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Cli {
    data_dir: std::path::PathBuf,
}

impl Cli {
    fn new() -> Cli {
        let data_dir = std::env::temp_dir().join(format!("fhir-auth-cli-{}-{}", std::process::id(), uuid::Uuid::new_v4()));
        Cli { data_dir }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fhir-server"))
            .arg("auth")
            .args(args)
            .env("FHIR_DATA_DIR", &self.data_dir)
            .env_remove("FHIR_DATABASE_URL")
            .env("FHIR_LISTEN", "127.0.0.1:8080")
            .env_remove("FHIR_PUBLIC_BASE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Stdout of a command that must succeed.
    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail with `expected` in its stderr.
    fn fails(&self, args: &[&str], stdin: Option<&str>, expected: &str) {
        let out = self.run(args, stdin);
        assert!(!out.status.success(), "{args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?} failed ({}) without {expected:?}: {stderr}", out.status);
    }
}

fn value<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines().find_map(|l| l.strip_prefix(&format!("{key}: "))).unwrap_or_else(|| panic!("no {key} in {out}"))
}

#[test]
fn clients_users_keys_and_launches_are_managed_from_the_command_line() {
    let cli = Cli::new();
    let scope = ["--scope", "launch launch/patient openid fhirUser patient/*.rs"];

    // Clients: public by default, a secret printed once for confidential-symmetric, keys for asymmetric.
    let public = cli.ok(&[&["client", "add", "--name", "Growth chart", "--redirect-uri", "https://app.example/cb", "--launch-url", "https://app.example/launch"][..], &scope].concat(), None);
    let public_id = value(&public, "client_id").to_string();
    assert_eq!(value(&public, "type"), "public");
    assert!(!public.contains("client_secret"));
    let secret = cli.ok(&[&["client", "add", "--name", "Portal", "--id", "portal", "--type", "confidential-symmetric", "--redirect-uri", "https://portal.example/cb"][..], &scope].concat(), None);
    assert_eq!(value(&secret, "client_id"), "portal");
    assert_eq!(value(&secret, "client_secret").len(), 43);
    let key = smart_auth::SigningKey::generate(smart_auth::Algorithm::ES384, 1).unwrap();
    let jwks_file = cli.data_dir.with_extension("jwks.json");
    std::fs::write(&jwks_file, serde_json::json!({"keys": [key.public_jwk()]}).to_string()).unwrap();
    let backend = cli.ok(&["client", "add", "--name", "Exporter", "--id", "exporter", "--jwks-file", jwks_file.to_str().unwrap(), "--scope", "system/*.rs"], None);
    assert_eq!(value(&backend, "type"), "confidential-asymmetric");
    // Refused: system scopes for a public app, no redirect URI, no scope, a taken id.
    cli.fails(&["client", "add", "--name", "X", "--redirect-uri", "https://x.example/cb", "--scope", "system/*.rs"], None, "backend services");
    cli.fails(&[&["client", "add", "--name", "X"][..], &scope].concat(), None, "--redirect-uri");
    cli.fails(&["client", "add", "--name", "X", "--redirect-uri", "https://x.example/cb"], None, "--scope");
    cli.fails(&[&["client", "add", "--name", "X", "--id", "portal", "--redirect-uri", "https://x.example/cb"][..], &scope].concat(), None, "already registered");
    let list = cli.ok(&["client", "list"], None);
    for id in [public_id.as_str(), "portal", "exporter"] {
        assert!(list.lines().any(|l| l.starts_with(&format!("{id}\t"))), "{list}");
    }

    // Users: the password from stdin, never printed.
    let added = cli.ok(&["user", "add", "alice", "--fhir-user", "Practitioner/123", "--password-stdin"], Some("a long password\n"));
    assert!(added.contains("alice") && !added.contains("a long password"));
    cli.fails(&["user", "add", "bob", "--password-stdin"], Some("short\n"), "at least 8");
    cli.fails(&["user", "add", "carol", "--fhir-user", "Observation/1", "--password-stdin"], Some("a long password\n"), "Practitioner");
    assert!(cli.ok(&["user", "list"], None).contains("alice\tsub "));

    // Keys: rotation adds, retirement refuses the last of a kind.
    let rotated = cli.ok(&["key", "rotate"], None);
    assert_eq!(rotated.lines().count(), 2, "{rotated}");
    let kids: Vec<String> = cli.ok(&["key", "list"], None).lines().map(|l| l.split('\t').next().unwrap().to_string()).collect();
    assert_eq!(kids.len(), 2);
    let es_kid = cli.ok(&["key", "list"], None).lines().find(|l| l.contains("\tES384\t")).unwrap().split('\t').next().unwrap().to_string();
    cli.fails(&["key", "retire", &es_kid], None, "rotate first");
    cli.ok(&["key", "rotate", "--alg", "es384"], None);
    cli.ok(&["key", "retire", &es_kid], None);
    assert!(cli.ok(&["key", "list"], None).lines().any(|l| l.starts_with(&es_kid) && l.contains("retired at")));

    // Launches: the app's launch URL with iss and launch.
    let url = cli.ok(&["launch", "--client", &public_id, "--user", "alice"], None);
    assert!(url.starts_with("https://app.example/launch?iss=http%3A%2F%2F127.0.0.1%3A8080%2Ffhir&launch="), "{url}");
    cli.fails(&["launch", "--client", &public_id, "--patient", "nobody"], None, "no Patient/nobody");
    cli.fails(&["launch", "--client", "unknown"], None, "no client unknown");

    // Removal.
    cli.ok(&["client", "remove", "portal"], None);
    cli.ok(&["user", "remove", "alice"], None);
    assert!(!cli.ok(&["client", "list"], None).contains("portal\t"));
    cli.fails(&["user", "remove", "alice"], None, "no user alice");
    let _ = std::fs::remove_dir_all(&cli.data_dir);
    let _ = std::fs::remove_file(&jwks_file);
}
