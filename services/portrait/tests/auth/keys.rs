//! The keys the commands make: `portrait auth new-key`'s line lets its token
//! in; `portrait run`'s admin key is made once and kept private.

use std::collections::BTreeSet;

use portrait_auth::{AuthSettings, Role};

#[test]
fn portrait_run_makes_one_admin_key_and_keeps_it_private() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().expect("dir");
    let mut configs = portrait::embedded::configs(Some(dir.path()), None).expect("configs");
    let token = portrait::embedded::prepare_auth(&mut configs)
        .expect("auth")
        .expect("a token to print");
    let file = dir.path().join(portrait::embedded::ADMIN_TOKEN_FILE);
    let mode = std::fs::metadata(&file).expect("kept").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only its owner reads the key");
    let hashes: BTreeSet<&str> = configs
        .iter()
        .map(|c| {
            let key = c.auth.api_keys.first().expect("the admin key");
            assert_eq!(key.role, Role::Admin);
            key.sha256.as_str()
        })
        .collect();
    assert_eq!(hashes.len(), 1, "every service knows the one key");
    assert_eq!(
        *hashes.first().expect("hash"),
        portrait_auth::sha256_hex(&token)
    );
    let mut again = portrait::embedded::configs(Some(dir.path()), None).expect("configs");
    let second = portrait::embedded::prepare_auth(&mut again).expect("auth");
    assert_eq!(
        second.as_deref(),
        Some(token.as_str()),
        "made once, then reused"
    );
    for c in &again {
        portrait_auth::Authenticator::from_settings(&c.auth).expect("a stack one can log in to");
    }
}

#[test]
fn new_key_prints_a_token_and_the_line_that_lets_it_in() {
    use figment::providers::{Format as _, Serialized, Toml};

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portrait"))
        .args(["auth", "new-key", "--role", "viewer", "--store", "s-001"])
        .args(["--name", "store manager"])
        .output()
        .expect("portrait runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    let token = lines[1];
    let entry = lines
        .iter()
        .find(|l| l.starts_with('{'))
        .expect("the config line");
    assert!(
        !entry.contains(token),
        "the configuration holds only the hash"
    );
    let settings: AuthSettings =
        figment::Figment::from(Serialized::defaults(AuthSettings::default()))
            .merge(Toml::string(&format!("api_keys = [{entry}]")))
            .extract()
            .expect("the line is valid configuration");
    let auth = portrait_auth::Authenticator::from_settings(&settings).expect("settings");
    let who = auth
        .authenticate(Some(format!("Bearer {token}").as_bytes()))
        .expect("the printed token logs in");
    assert_eq!(who.subject, "store manager");
    assert_eq!(who.role, Role::Viewer);
    assert_eq!(who.stores, ["s-001"]);
}
