use subtle::ConstantTimeEq as _;

use crate::jwt::JwtVerifier;
use crate::keys::{digest, parse_hex32};
use crate::{AuthMode, AuthSettings, Error, Principal, Result, Role};

struct Key {
    digest: [u8; 32],
    principal: Principal,
}

/// Turns an `authorization` header into a `Principal`. Built once at start
/// from `auth.*`; cheap to share.
pub struct Authenticator {
    mode: AuthMode,
    keys: Vec<Key>,
    jwt: Option<JwtVerifier>,
    allow_reflection: bool,
}

impl Authenticator {
    /// Refuses settings that cannot work, naming the key; with `auth.mode =
    /// "on"` something must be able to let a caller in.
    pub fn from_settings(settings: &AuthSettings) -> Result<Self> {
        if settings.mode == AuthMode::On && !settings.has_credentials() {
            return Err(Error::Config(
                "auth.mode is \"on\" but nothing can log in: set auth.api_keys or auth.jwt \
                 (or auth.service_token_sha256 on an internal service), or auth.mode = \"off\""
                    .into(),
            ));
        }
        let mut keys = Vec::with_capacity(settings.api_keys.len() + 1);
        for (i, key) in settings.api_keys.iter().enumerate() {
            if key.name.is_empty() {
                return Err(Error::Config(format!("auth.api_keys[{i}].name is empty")));
            }
            if key.role == Role::Service {
                return Err(Error::Config(format!(
                    "auth.api_keys[{i}].role: \"service\" is auth.service_token_sha256's role"
                )));
            }
            keys.push(Key {
                digest: parse_hex32(&format!("auth.api_keys[{i}].sha256"), &key.sha256)?,
                principal: Principal {
                    subject: key.name.clone(),
                    role: key.role,
                    stores: key.stores.clone(),
                    cities: key.cities.clone(),
                },
            });
        }
        if !settings.service_token_sha256.is_empty() {
            keys.push(Key {
                digest: parse_hex32("auth.service_token_sha256", &settings.service_token_sha256)?,
                principal: Principal {
                    subject: "service".into(),
                    role: Role::Service,
                    stores: Vec::new(),
                    cities: Vec::new(),
                },
            });
        }
        let jwt = if settings.jwt.is_set() {
            Some(JwtVerifier::from_settings(&settings.jwt)?)
        } else {
            None
        };
        Ok(Self {
            mode: settings.mode,
            keys,
            jwt,
            allow_reflection: settings.allow_reflection,
        })
    }

    pub fn is_on(&self) -> bool {
        self.mode == AuthMode::On
    }

    pub fn allow_reflection(&self) -> bool {
        self.allow_reflection
    }

    /// The caller behind `authorization` (the header's value, if any).
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Principal> {
        if self.mode == AuthMode::Off {
            return Ok(Principal::anonymous_admin());
        }
        let Some(value) = authorization else {
            return Err(Error::Unauthenticated(
                "missing token: send authorization: Bearer <token>".into(),
            ));
        };
        let token = std::str::from_utf8(value)
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Unauthenticated("authorization must be \"Bearer <token>\"".into())
            })?;
        // A JWT has three dot-separated parts; an API key has no dot.
        if token.contains('.') {
            return match &self.jwt {
                Some(verifier) => verifier.verify(token),
                None => Err(Error::Unauthenticated(
                    "bad token: JWTs are not accepted here (auth.jwt is not set)".into(),
                )),
            };
        }
        self.key(token)
            .ok_or_else(|| Error::Unauthenticated("bad token: no such key".into()))
    }

    fn key(&self, token: &str) -> Option<Principal> {
        let presented = digest(token);
        // Every key is compared, in constant time, so timing tells nothing.
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.digest.ct_eq(&presented)) {
                found = Some(key.principal.clone());
            }
        }
        found
    }
}
