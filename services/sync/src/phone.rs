//! Member phones: normalised, then kept only as a keyed hash (and, with
//! `sync.pii_encryption_key`, encrypted for the admin's reveal: `pii`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `+86 138-1234-5678` → `13812345678`; `None` unless a mainland mobile
/// number (11 digits starting with 1) remains.
pub fn normalise_phone(raw: &str) -> Option<String> {
    let mut digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    for prefix in ["0086", "86"] {
        if digits.len() == 11 + prefix.len() && digits.starts_with(prefix) {
            digits.drain(..prefix.len());
        }
    }
    (digits.len() == 11 && digits.starts_with('1')).then_some(digits)
}

/// HMAC-SHA256 of the normalised phone under `key`, as lowercase hex.
pub fn phone_hash(key: &[u8], phone: &str) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("hmac accepts any key length"));
    mac.update(phone.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The customer a phone names when no other id does: `tel:` and the first 32
/// hex digits of its hash; `None` unless `raw` is a mobile number.
pub fn phone_customer_id(key: &[u8], raw: &str) -> Option<String> {
    let phone = normalise_phone(raw)?;
    Some(crate::pii::pseudonym(key, "tel", &phone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise_to_eleven_digits() {
        for raw in [
            "13812345678",
            " 138 1234 5678 ",
            "+86 138-1234-5678",
            "+8613812345678",
            "8613812345678",
            "0086 13812345678",
            "138-1234-5678",
        ] {
            assert_eq!(
                normalise_phone(raw).as_deref(),
                Some("13812345678"),
                "{raw}"
            );
        }
        for raw in [
            "",
            "12345",
            "021-12345678",
            "23812345678",
            "+86 138 1234 567",
            "138123456789",
        ] {
            assert_eq!(normalise_phone(raw), None, "{raw}");
        }
    }

    #[test]
    fn hash_is_rfc4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            phone_hash(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hash_depends_on_the_key_and_never_contains_the_phone() {
        let a = phone_hash(b"k1", "13812345678");
        let b = phone_hash(b"k2", "13812345678");
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(!a.contains("13812345678"));
        assert_eq!(a, phone_hash(b"k1", "13812345678"));
    }
}
