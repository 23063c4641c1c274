use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey as _;
use proptest::prelude::*;
use prost::Message as _;

use super::*;

#[test]
fn every_rpc_of_every_service_has_a_rule() {
    let set = prost_types::FileDescriptorSet::decode(portrait_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptor set");
    let mut described = BTreeSet::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                described.insert(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    let listed: BTreeSet<String> = POLICY.iter().map(|(p, _)| (*p).to_owned()).collect();
    let missing: Vec<_> = described.difference(&listed).collect();
    assert!(missing.is_empty(), "rpcs without a policy: {missing:?}");
    let stale: Vec<_> = listed.difference(&described).collect();
    assert!(stale.is_empty(), "policies of no rpc: {stale:?}");
    assert_eq!(listed.len(), POLICY.len(), "a path listed twice");
}

#[test]
fn roles_are_ordered_and_service_stands_apart() {
    use Role::*;
    let expect = [
        (Viewer, Viewer, true),
        (Viewer, Analyst, false),
        (Analyst, Viewer, true),
        (Analyst, Admin, false),
        (Admin, Analyst, true),
        (Admin, Service, true),
        (Service, Service, true),
        (Service, Viewer, false),
        (Analyst, Service, false),
        (Viewer, Service, false),
    ];
    for (role, least, ok) in expect {
        assert_eq!(role.satisfies(least), ok, "{role:?} for {least:?}");
    }
}

fn settings_with(keys: Vec<ApiKey>) -> AuthSettings {
    AuthSettings {
        api_keys: keys,
        ..AuthSettings::default()
    }
}

fn bearer(token: &str) -> Vec<u8> {
    format!("Bearer {token}").into_bytes()
}

#[test]
fn an_api_key_is_its_hash_and_nothing_else() {
    let viewer = new_key();
    let scoped = new_key();
    let auth = Authenticator::from_settings(&settings_with(vec![
        ApiKey {
            name: "dash".into(),
            sha256: viewer.sha256.clone(),
            role: Role::Viewer,
            stores: vec![],
            cities: vec![],
        },
        ApiKey {
            name: "s001 manager".into(),
            sha256: scoped.sha256.clone(),
            role: Role::Analyst,
            stores: vec!["s001".into()],
            cities: vec![],
        },
    ]))
    .expect("settings");
    assert_eq!(viewer.token.len(), 43, "32 bytes base64url");
    let p = auth
        .authenticate(Some(&bearer(&viewer.token)))
        .expect("viewer");
    assert_eq!((p.subject.as_str(), p.role), ("dash", Role::Viewer));
    let p = auth
        .authenticate(Some(&bearer(&scoped.token)))
        .expect("scoped");
    assert_eq!(p.stores, vec!["s001".to_owned()]);
    assert!(p.is_scoped());
    for bad in [
        bearer(&viewer.sha256),
        bearer(&viewer.token[1..]),
        viewer.token.clone().into_bytes(),
        b"Bearer ".to_vec(),
        vec![0xff, 0xfe],
    ] {
        let e = auth.authenticate(Some(&bad)).expect_err("refused");
        assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
    }
    assert!(matches!(
        auth.authenticate(None),
        Err(Error::Unauthenticated(_))
    ));
}

#[test]
fn policy_refuses_low_roles_and_scoped_tokens_on_whole_chain_rpcs() {
    let viewer = Principal {
        subject: "v".into(),
        role: Role::Viewer,
        stores: vec![],
        cities: vec![],
    };
    assert!(viewer.authorize(&gateway_path("GetOverview")).is_ok());
    assert!(matches!(
        viewer.authorize(&gateway_path("ListCustomers")),
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        viewer.authorize(&gateway_path("TriggerSync")),
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        viewer.authorize("/portrait.v1.RfmQuery/ListRfm"),
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        viewer.authorize("/nope.X/Y"),
        Err(Error::Denied(_))
    ));
    let scoped_admin = Principal {
        role: Role::Admin,
        stores: vec!["s001".into()],
        ..viewer.clone()
    };
    assert!(scoped_admin.authorize(&gateway_path("GetOverview")).is_ok());
    assert!(matches!(
        scoped_admin.authorize(&gateway_path("GetCustomer")),
        Err(Error::Denied(_))
    ));
    assert!(matches!(
        scoped_admin.authorize(&gateway_path("TriggerSync")),
        Err(Error::Denied(_))
    ));
}

#[test]
fn mode_on_with_nothing_configured_names_the_keys() {
    let e = Authenticator::from_settings(&AuthSettings::default())
        .err()
        .expect("refused");
    let text = e.to_string();
    assert!(
        text.contains("auth.api_keys") && text.contains("auth.jwt"),
        "{text}"
    );
    let off = AuthSettings {
        mode: AuthMode::Off,
        ..AuthSettings::default()
    };
    let p = Authenticator::from_settings(&off)
        .expect("off")
        .authenticate(None)
        .expect("anyone");
    assert_eq!(p.role, Role::Admin);
    let bad_hash = settings_with(vec![ApiKey {
        name: "x".into(),
        sha256: "abc".into(),
        role: Role::Admin,
        stores: vec![],
        cities: vec![],
    }]);
    let text = Authenticator::from_settings(&bad_hash)
        .err()
        .expect("refused")
        .to_string();
    assert!(text.contains("auth.api_keys[0].sha256"), "{text}");
}

/// An ES256 key of the test's own, its JWK set file and an authenticator.
struct Issuer {
    key: EncodingKey,
    auth: Authenticator,
    _dir: tempfile::TempDir,
}

fn issuer() -> Issuer {
    let signing = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let der = signing.to_pkcs8_der().expect("der");
    let point = signing.verifying_key().to_encoded_point(false);
    let jwks = serde_json::json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
        "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
    }]});
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, jwks.to_string()).expect("write");
    let settings = AuthSettings {
        jwt: JwtSettings {
            issuer: "https://idp.test".into(),
            audience: "portrait".into(),
            jwks_file: file.display().to_string(),
        },
        ..AuthSettings::default()
    };
    Issuer {
        key: EncodingKey::from_ec_der(der.as_bytes()),
        auth: Authenticator::from_settings(&settings).expect("settings"),
        _dir: dir,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn sign(key: &EncodingKey, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k1".into());
    jsonwebtoken::encode(&header, &claims, key).expect("sign")
}

fn claims(exp: i64) -> serde_json::Value {
    serde_json::json!({"sub": "ana", "role": "analyst", "iss": "https://idp.test",
        "aud": "portrait", "exp": exp, "cities": ["上海"]})
}

#[test]
fn a_jwt_is_verified_against_the_key_set() {
    let iss = issuer();
    let token = sign(&iss.key, claims(now() + 600));
    let p = iss.auth.authenticate(Some(&bearer(&token))).expect("valid");
    assert_eq!(p.subject, "ana");
    assert_eq!(p.role, Role::Analyst);
    assert_eq!(p.cities, vec!["上海".to_owned()]);

    let refused = |token: &str| {
        let e = iss
            .auth
            .authenticate(Some(&bearer(token)))
            .expect_err("refused");
        assert!(matches!(e, Error::Unauthenticated(_)), "{e}");
        e.to_string()
    };
    let expired = refused(&sign(&iss.key, claims(now() - 3600)));
    assert!(expired.contains("xpired"), "{expired}");
    let mut other = claims(now() + 600);
    other["aud"] = "someone-else".into();
    refused(&sign(&iss.key, other));
    let mut other = claims(now() + 600);
    other["iss"] = "https://evil.test".into();
    refused(&sign(&iss.key, other));
    let mut other = claims(now() + 600);
    other["role"] = "service".into();
    refused(&sign(&iss.key, other));
    let mut no_exp = claims(0);
    no_exp.as_object_mut().expect("object").remove("exp");
    refused(&sign(&iss.key, no_exp));
    // Another key of the same curve is not the configured one.
    refused(&sign(&issuer().key, claims(now() + 600)));
    // HS256 signed with a guessable secret, and `none`.
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(now() + 600),
        &EncodingKey::from_secret(b"portrait"),
    )
    .expect("hs256");
    refused(&hs);
    let body = URL_SAFE_NO_PAD.encode(claims(now() + 600).to_string());
    let none = format!(
        "{}.{body}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    refused(&none);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Outside input: any bytes, and any mutation of a valid JWT, is refused
    /// with an error, never a panic and never a principal.
    #[test]
    fn garbage_tokens_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300),
                                  at in 0usize..400, with in any::<u8>()) {
        let iss = issuer_once();
        let mut header = b"Bearer ".to_vec();
        header.extend_from_slice(&bytes);
        prop_assert!(iss.auth.authenticate(Some(&header)).is_err());
        let token = sign(&iss.key, claims(now() + 600));
        let mut mutated = token.clone().into_bytes();
        let i = at % mutated.len();
        if mutated[i] != with {
            mutated[i] = with;
            let mut header = b"Bearer ".to_vec();
            header.extend_from_slice(&mutated);
            // A mutation inside the base64 padding bits can leave the token
            // meaning the same: then it must still be that principal.
            match iss.auth.authenticate(Some(&header)) {
                Ok(p) => prop_assert_eq!(p.subject, "ana"),
                Err(e) => prop_assert!(matches!(e, Error::Unauthenticated(_))),
            }
        }
    }
}

fn issuer_once() -> &'static Issuer {
    static ISSUER: std::sync::OnceLock<Issuer> = std::sync::OnceLock::new();
    ISSUER.get_or_init(issuer)
}
