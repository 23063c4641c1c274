use serde::{Deserialize, Serialize};

use crate::Role;

/// `auth.*`: defaults in code like every section of the configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub api_keys: Vec<ApiKey>,
    pub jwt: JwtSettings,
    /// gRPC server reflection answers without a token.
    pub allow_reflection: bool,
    /// The token this process sends to the internal services (a secret).
    pub service_token: String,
    /// Hex SHA-256 of the token the internal services accept as role `service`.
    pub service_token_sha256: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    On,
    Off,
}

/// One static API key: the token itself is never configured, only its hash.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub name: String,
    pub sha256: String,
    pub role: Role,
    #[serde(default)]
    pub stores: Vec<String>,
    #[serde(default)]
    pub cities: Vec<String>,
}

/// JWTs signed by an identity provider; all empty = no JWTs accepted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    pub issuer: String,
    pub audience: String,
    /// A JWK set (`{"keys": [...]}`), read once at start: no network fetch.
    pub jwks_file: String,
}

impl JwtSettings {
    pub fn is_set(&self) -> bool {
        !(self.issuer.is_empty() && self.audience.is_empty() && self.jwks_file.is_empty())
    }
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            mode: AuthMode::On,
            api_keys: Vec::new(),
            jwt: JwtSettings::default(),
            allow_reflection: true,
            service_token: String::new(),
            service_token_sha256: String::new(),
        }
    }
}

impl AuthSettings {
    /// Anything that can let a caller in.
    pub fn has_credentials(&self) -> bool {
        !self.api_keys.is_empty() || self.jwt.is_set() || !self.service_token_sha256.is_empty()
    }
}
