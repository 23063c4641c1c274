//! An identity provider of the test's own: an ES256 key made here, its JWK
//! set in a file, tokens signed with `jsonwebtoken`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey as _;
use portrait_auth::JwtSettings;

pub(crate) struct Issuer {
    key: EncodingKey,
    jwks: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

const ISSUER: &str = "https://idp.portrait.test";
const AUDIENCE: &str = "portrait";

impl Issuer {
    pub(crate) fn new() -> Self {
        let signing = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let der = signing.to_pkcs8_der().expect("der");
        let point = signing.verifying_key().to_encoded_point(false);
        let jwks = serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "test", "use": "sig", "alg": "ES256",
            "x": URL_SAFE_NO_PAD.encode(point.x().expect("x")),
            "y": URL_SAFE_NO_PAD.encode(point.y().expect("y")),
        }]});
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("jwks.json");
        std::fs::write(&file, jwks.to_string()).expect("write");
        Self {
            key: EncodingKey::from_ec_der(der.as_bytes()),
            jwks: file,
            _dir: dir,
        }
    }

    pub(crate) fn settings(&self) -> JwtSettings {
        JwtSettings {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks_file: self.jwks.display().to_string(),
        }
    }

    /// A token for `sub` with `role`, expiring `expires_in` seconds from now
    /// (negative: already expired, beyond any leeway).
    pub(crate) fn sign(&self, sub: &str, role: &str, expires_in: i64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let claims = serde_json::json!({"sub": sub, "role": role, "iss": ISSUER,
            "aud": AUDIENCE, "exp": now + expires_in, "iat": now});
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("test".into());
        jsonwebtoken::encode(&header, &claims, &self.key).expect("sign")
    }
}
