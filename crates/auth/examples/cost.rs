//! What authenticating one request costs: an API key among N configured
//! (SHA-256 and N constant-time compares) and an ES256 JWT. Prints figures,
//! asserts nothing: `cargo run -p portrait-auth --example cost` (add
//! `--release` for production figures; dependencies are built optimised-less
//! in the dev profile, so debug figures are an upper bound).

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey as _;
use portrait_auth::{ApiKey, AuthSettings, Authenticator, JwtSettings, Role};

fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        f();
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

fn main() {
    for keys in [1usize, 10, 100] {
        let made: Vec<_> = (0..keys).map(|_| portrait_auth::new_key()).collect();
        let settings = AuthSettings {
            api_keys: made
                .iter()
                .enumerate()
                .map(|(i, k)| ApiKey {
                    name: format!("k{i}"),
                    sha256: k.sha256.clone(),
                    role: Role::Viewer,
                    stores: Vec::new(),
                    cities: Vec::new(),
                })
                .collect(),
            ..AuthSettings::default()
        };
        let auth = Authenticator::from_settings(&settings).expect("settings");
        let header = format!("Bearer {}", made[keys - 1].token).into_bytes();
        let us = per_call(100_000, || {
            auth.authenticate(Some(&header)).expect("valid");
        });
        println!("api key, {keys:>3} configured: {us:.2} µs per request");
    }

    let signing = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let der = signing.to_pkcs8_der().expect("der");
    let point = signing.verifying_key().to_encoded_point(false);
    let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k",
        "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
        "y": URL_SAFE_NO_PAD.encode(point.y().expect("y"))}]});
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, jwks.to_string()).expect("write");
    let settings = AuthSettings {
        jwt: JwtSettings {
            issuer: "i".into(),
            audience: "a".into(),
            jwks_file: file.display().to_string(),
        },
        ..AuthSettings::default()
    };
    let auth = Authenticator::from_settings(&settings).expect("settings");
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 600;
    let claims =
        serde_json::json!({"sub": "s", "role": "viewer", "iss": "i", "aud": "a", "exp": exp});
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k".into());
    let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(der.as_bytes()))
        .expect("sign");
    let header = format!("Bearer {token}").into_bytes();
    let us = per_call(2_000, || {
        auth.authenticate(Some(&header)).expect("valid");
    });
    println!("ES256 JWT: {us:.1} µs per request");
}
