//! Who may see and do what (docs/architecture.md "Security"): bearer tokens
//! (static API keys or JWTs) become a `Principal` with a role and an optional
//! store/city scope; one policy table says the least role of every rpc.
//! No async and no I/O but reading the JWK set file at start.

mod authenticator;
mod jwt;
mod keys;
mod policy;
mod settings;

pub use authenticator::Authenticator;
pub use keys::{NewKey, config_line, new_key, sha256_hex};
pub use policy::{
    INTERNAL_ACTIONS, POLICY, Rule, ScopeRule, gateway_path, is_audited_action, rule,
};
pub use settings::{ApiKey, AuthMode, AuthSettings, JwtSettings};

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request carries no usable credentials: UNAUTHENTICATED.
    #[error("{0}")]
    Unauthenticated(String),
    /// Known caller, not allowed: PERMISSION_DENIED.
    #[error("{0}")]
    Denied(String),
    /// A setting that cannot work; the message names the key.
    #[error("{0}")]
    Config(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// viewer < analyst < admin; `service` is the internal services' own role,
/// outside that order: it may call the internal query APIs and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Analyst,
    Admin,
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            "service" => Some(Role::Service),
            _ => None,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 1,
            Role::Analyst => 2,
            Role::Admin => 3,
            Role::Service => 0,
        }
    }

    /// Whether this role satisfies `least`: the ordered roles by rank; an rpc
    /// that needs `service` takes the service token or an admin.
    pub fn satisfies(self, least: Role) -> bool {
        match least {
            Role::Service => matches!(self, Role::Service | Role::Admin),
            _ => self != Role::Service && self.rank() >= least.rank(),
        }
    }
}

/// Who is calling, as authenticated: the request extensions carry it from the
/// layer to the handlers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's name or the JWT's `sub`.
    pub subject: String,
    pub role: Role,
    /// Empty together with `cities` = the whole chain.
    pub stores: Vec<String>,
    pub cities: Vec<String>,
}

impl Principal {
    /// Everyone is this when `auth.mode = "off"`.
    pub fn anonymous_admin() -> Self {
        Self {
            subject: "anonymous".into(),
            role: Role::Admin,
            stores: Vec::new(),
            cities: Vec::new(),
        }
    }

    /// A token limited to some stores or cities.
    pub fn is_scoped(&self) -> bool {
        !self.stores.is_empty() || !self.cities.is_empty()
    }

    /// May this principal call `path` (`/portrait.v1.X/Method`)? Unknown
    /// paths are denied: the table must list every rpc.
    pub fn authorize(&self, path: &str) -> Result<Rule> {
        let Some(rule) = rule(path) else {
            return Err(Error::Denied(format!("{path} is in no policy")));
        };
        if !self.role.satisfies(rule.least) {
            return Err(Error::Denied(format!(
                "{path} needs role {}; {} has role {}",
                rule.least.as_str(),
                self.subject,
                self.role.as_str()
            )));
        }
        if self.is_scoped() && rule.scope == ScopeRule::WholeChain {
            return Err(Error::Denied(format!(
                "{path} answers for the whole chain; {} is limited to some stores or cities",
                self.subject
            )));
        }
        Ok(rule)
    }
}

#[cfg(test)]
mod tests;
