use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::{Error, Result, Role};

/// A fresh API key: the token to hand out once and what configuration keeps.
pub struct NewKey {
    pub token: String,
    pub sha256: String,
}

/// 32 random bytes, base64url: a token nobody guesses, so a fast hash is
/// enough to keep it out of the configuration.
pub fn new_key() -> NewKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let sha256 = sha256_hex(&token);
    NewKey { token, sha256 }
}

pub fn sha256_hex(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// `key` is the configuration key named in the message.
pub(crate) fn parse_hex32(key: &str, hex: &str) -> Result<[u8; 32]> {
    let bad = || {
        Error::Config(format!(
            "{key} must be 64 hex digits (a SHA-256), not {hex:?}"
        ))
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// The line `portrait auth new-key` prints to paste into `auth.api_keys`.
pub fn config_line(
    name: &str,
    sha256: &str,
    role: Role,
    stores: &[String],
    cities: &[String],
) -> String {
    let list = |v: &[String]| {
        let quoted: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
        format!("[{}]", quoted.join(", "))
    };
    format!(
        "{{ name = {name:?}, sha256 = {sha256:?}, role = {:?}, stores = {}, cities = {} }}",
        role.as_str(),
        list(stores),
        list(cities)
    )
}
