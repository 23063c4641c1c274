use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::{Error, JwtSettings, Principal, Result, Role};

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

/// Verifies JWTs against the keys of the configured JWK set, read at start.
pub(crate) struct JwtVerifier {
    keys: Vec<VerifyingKey>,
    issuer: String,
    audience: String,
}

struct VerifyingKey {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    role: String,
    #[serde(default)]
    stores: Vec<String>,
    #[serde(default)]
    cities: Vec<String>,
}

impl JwtVerifier {
    pub(crate) fn from_settings(settings: &JwtSettings) -> Result<Self> {
        if settings.issuer.is_empty() || settings.audience.is_empty() {
            return Err(Error::Config(
                "auth.jwt.issuer and auth.jwt.audience must both be set with auth.jwt".into(),
            ));
        }
        let text = std::fs::read_to_string(&settings.jwks_file).map_err(|e| {
            Error::Config(format!(
                "auth.jwt.jwks_file {:?} cannot be read: {e}",
                settings.jwks_file
            ))
        })?;
        Self::from_jwks(&text, &settings.issuer, &settings.audience)
    }

    pub(crate) fn from_jwks(text: &str, issuer: &str, audience: &str) -> Result<Self> {
        let set: JwkSet = serde_json::from_str(text)
            .map_err(|e| Error::Config(format!("auth.jwt.jwks_file is not a JWK set: {e}")))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            // RS256 and ES256 only: `none` and the HMAC algorithms would let
            // anyone who knows a public key sign.
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => Algorithm::RS256,
                AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                _ => continue,
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| {
                Error::Config(format!("auth.jwt.jwks_file: a key cannot be used: {e}"))
            })?;
            keys.push(VerifyingKey {
                kid: jwk.common.key_id.clone(),
                algorithm,
                key,
            });
        }
        if keys.is_empty() {
            return Err(Error::Config(
                "auth.jwt.jwks_file holds no RSA or P-256 key".into(),
            ));
        }
        Ok(Self {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
        })
    }

    pub(crate) fn verify(&self, token: &str) -> Result<Principal> {
        let bad = |why: String| Error::Unauthenticated(format!("bad token: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|e| bad(e.to_string()))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(bad(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY_SECONDS;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let candidates = self.keys.iter().filter(|k| {
            k.algorithm == header.alg
                && match (&header.kid, &k.kid) {
                    (Some(wanted), Some(kid)) => wanted == kid,
                    _ => true,
                }
        });
        let mut last = None;
        for candidate in candidates {
            match jsonwebtoken::decode::<Claims>(token, &candidate.key, &validation) {
                Ok(data) => return principal(data.claims),
                Err(e) => last = Some(e),
            }
        }
        Err(match last {
            Some(e) => bad(e.to_string()),
            None => bad("no configured key matches its kid and algorithm".into()),
        })
    }
}

fn principal(claims: Claims) -> Result<Principal> {
    // `service` is only the internal token's; a JWT cannot claim it.
    let role = Role::parse(&claims.role)
        .filter(|r| *r != Role::Service)
        .ok_or_else(|| {
            Error::Unauthenticated(format!(
                "bad token: role {:?} is not viewer, analyst or admin",
                claims.role
            ))
        })?;
    Ok(Principal {
        subject: claims.sub,
        role,
        stores: claims.stores,
        cities: claims.cities,
    })
}
