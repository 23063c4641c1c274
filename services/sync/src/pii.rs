//! Personal data the source holds (WeChat open ids, member ids, phones):
//! customer ids are keyed pseudonyms of them, and the plain values live only
//! encrypted, for an admin's audited reveal (docs/architecture.md §11 "PII").

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;

use crate::phone::phone_hash;
use crate::{Error, Result};

/// What a pseudonym keeps of its HMAC: 128 bits, as 32 hex digits.
const PSEUDONYM_HEX: usize = 32;
pub const NONCE_LEN: usize = 12;

/// The one pseudonym function: `kind:` and a truncated HMAC-SHA256 of `raw`
/// under `key`. `tel:` ids made by earlier builds under `sync.phone_key` are
/// exactly these, so a phone keeps its customer when that key becomes `pii_key`.
pub fn pseudonym(key: &[u8], kind: &str, raw: &str) -> String {
    format!("{kind}:{}", &phone_hash(key, raw)[..PSEUDONYM_HEX])
}

/// What identifies a person on one source order, as read (trimmed,
/// normalised phone): what the reveal store keeps encrypted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub customer_id: String,
    pub open_id: String,
    pub member_id: String,
    pub phone: String,
}

impl Identity {
    /// The fields worth keeping, by the name the reveal store gives them.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("open_id", self.open_id.as_str()),
            ("member_id", self.member_id.as_str()),
            ("phone", self.phone.as_str()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
    }
}

/// AES-256-GCM under `sync.pii_encryption_key`.
#[derive(Clone)]
pub struct Cipher(Aes256Gcm);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(***)")
    }
}

/// A sealed value: a random nonce and the ciphertext with its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: Vec<u8>,
    pub sealed: Vec<u8>,
}

impl Cipher {
    /// `base64` must decode to 32 bytes; the error names the key, never its value.
    pub fn from_base64(base64: &str) -> Result<Self> {
        let key = base64::engine::general_purpose::STANDARD
            .decode(base64.trim())
            .map_err(|_| {
                Error::Config("sync.pii_encryption_key is not base64 (32 random bytes)".into())
            })?;
        if key.len() != 32 {
            return Err(Error::Config(format!(
                "sync.pii_encryption_key holds {} bytes; AES-256 needs 32",
                key.len()
            )));
        }
        Aes256Gcm::new_from_slice(&key)
            .map(Self)
            .map_err(|_| Error::Config("sync.pii_encryption_key is not an AES-256 key".into()))
    }

    /// Bound to its customer and field (the associated data), so a row copied
    /// onto another customer does not open.
    pub fn seal(&self, customer_id: &str, field: &str, plain: &str) -> Result<Sealed> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated(customer_id, field);
        let sealed = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| Error::Corrupt("failed to encrypt a reveal row".into()))?;
        Ok(Sealed {
            nonce: nonce.to_vec(),
            sealed,
        })
    }

    pub fn open(&self, customer_id: &str, field: &str, row: &Sealed) -> Result<String> {
        if row.nonce.len() != NONCE_LEN {
            return Err(Error::Corrupt(format!(
                "reveal row {field} of {customer_id} has a {}-byte nonce",
                row.nonce.len()
            )));
        }
        let aad = associated(customer_id, field);
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(&row.nonce),
                Payload {
                    msg: &row.sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                Error::Corrupt(format!(
                    "reveal row {field} of {customer_id} does not open under sync.pii_encryption_key \
                     (another key, or the row was altered)"
                ))
            })?;
        String::from_utf8(plain)
            .map_err(|_| Error::Corrupt(format!("reveal row {field} of {customer_id} is not text")))
    }
}

/// 32 random bytes in standard base64: a fresh `pii_key` or `pii_encryption_key`.
pub fn new_key() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

fn associated(customer_id: &str, field: &str) -> Vec<u8> {
    format!("{customer_id}\u{0}{field}").into_bytes()
}

/// A short check value of the pseudonym key, kept in sync's store so that a
/// changed key is refused instead of silently giving everyone new ids. One-way:
/// it is an HMAC of a fixed label, not of any person's data.
pub fn key_check(key: &[u8]) -> i64 {
    let hex = phone_hash(key, "portrait pii key check");
    i64::from_str_radix(&hex[..15], 16).unwrap_or_else(|_| unreachable!("15 hex digits fit"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn pseudonyms_keep_the_kind_and_hide_the_value() {
        let a = pseudonym(b"k1", "wx", "oAbc123");
        assert!(a.starts_with("wx:"));
        assert_eq!(a.len(), 3 + 32);
        assert!(!a.contains("oAbc123"));
        assert_eq!(a, pseudonym(b"k1", "wx", "oAbc123"));
        assert_ne!(a, pseudonym(b"k2", "wx", "oAbc123"));
        // The phone's pseudonym is the phone module's id, so old tel: ids hold.
        assert_eq!(
            pseudonym(b"k1", "tel", "13812345678"),
            crate::phone::phone_customer_id(b"k1", "13812345678").unwrap_or_default()
        );
        // Independent HMAC (RFC 4231 test case 2), truncated to 32 hex digits.
        assert_eq!(
            pseudonym(b"Jefe", "vip", "what do ya want for nothing?"),
            "vip:5bdcc146bf60754e6a042426089575c7"
        );
    }

    #[test]
    fn sealing_round_trips_with_a_fresh_nonce_per_row() {
        let c = Cipher::from_base64(KEY).expect("key");
        let a = c.seal("wx:1", "open_id", "oAbc123").expect("seal");
        let b = c.seal("wx:1", "open_id", "oAbc123").expect("seal");
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.sealed, b.sealed);
        assert!(!String::from_utf8_lossy(&a.sealed).contains("oAbc123"));
        assert_eq!(c.open("wx:1", "open_id", &a).expect("open"), "oAbc123");
        assert_eq!(c.open("wx:1", "open_id", &b).expect("open"), "oAbc123");
    }

    #[test]
    fn a_wrong_key_or_a_moved_row_fails_clearly() {
        let c = Cipher::from_base64(KEY).expect("key");
        let other =
            Cipher::from_base64("HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=").expect("other key");
        let row = c.seal("vip:9", "phone", "13812345678").expect("seal");
        let e = other.open("vip:9", "phone", &row).expect_err("wrong key");
        assert!(e.to_string().contains("sync.pii_encryption_key"), "{e}");
        assert!(c.open("vip:8", "phone", &row).is_err());
        assert!(c.open("vip:9", "member_id", &row).is_err());
    }

    #[test]
    fn new_keys_are_usable_and_differ() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert!(Cipher::from_base64(&a).is_ok());
    }

    #[test]
    fn a_bad_key_is_refused_naming_it() {
        for bad in ["", "not base64!", "AAEC"] {
            let e = Cipher::from_base64(bad).expect_err(bad);
            assert!(e.to_string().contains("sync.pii_encryption_key"), "{e}");
        }
    }

    #[test]
    fn the_key_check_depends_on_the_key() {
        assert_eq!(key_check(b"a"), key_check(b"a"));
        assert_ne!(key_check(b"a"), key_check(b"b"));
        assert!(key_check(b"a") >= 0);
    }
}
