//! Who is held out: a fixed hash of (suggestion id, customer id), so the
//! control group is the same after a restart, on another machine or in
//! another version, and anyone can recompute it (the e2e test does).

use sha2::{Digest, Sha256};

/// The member's bucket 0–99: the first 8 bytes of
/// SHA-256(UTF-8 suggestion id ‖ 0x00 ‖ UTF-8 customer id), read big-endian
/// as an unsigned 64-bit integer, modulo 100. Ids never hold a NUL byte, so
/// the separator keeps ("ab", "c") and ("a", "bc") apart.
pub fn bucket(suggestion_id: &str, customer_id: &str) -> u8 {
    let mut h = Sha256::new();
    h.update(suggestion_id.as_bytes());
    h.update([0u8]);
    h.update(customer_id.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 100) as u8
}

/// In the control group when the bucket is below the control percentage.
pub fn is_control(suggestion_id: &str, customer_id: &str, control_percent: i32) -> bool {
    i32::from(bucket(suggestion_id, customer_id)) < control_percent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_digest_and_a_fair_split() {
        // SHA-256("s\0c") = 9fd330ab872e9c26… (sha256sum); its first 8 bytes % 100.
        assert_eq!(bucket("s", "c"), (0x9fd3_30ab_872e_9c26_u64 % 100) as u8);
        let control = (0..10_000)
            .filter(|i| is_control("churn:all", &format!("c{i:05}"), 10))
            .count();
        assert!((850..1150).contains(&control), "{control}");
        assert!(!is_control("x", "y", 0));
        assert!((0..100).all(|i| is_control("x", &i.to_string(), 100)));
    }
}
