//! What PII protection adds to a sync page: pseudonyms (HMAC-SHA256), sealing
//! (AES-256-GCM, a nonce each) and writing the reveal store and the phone
//! index for one page of 5,000 people into a SQLite sync store, and reading
//! one customer back. Prints figures, asserts nothing:
//! `cargo run -p portrait-sync --example pii_cost` (dev-profile figures are an
//! upper bound).

use std::time::Instant;

use portrait_sync::pii::{Cipher, Identity, new_key, pseudonym};

const PAGE: usize = 5_000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let key = new_key();
    let cipher = Cipher::from_base64(&new_key())?;
    let started = Instant::now();
    let people: Vec<Identity> = (0..PAGE)
        .map(|i| {
            let open_id = format!("oWx{i:012}");
            Identity {
                customer_id: pseudonym(key.as_bytes(), "wx", &open_id),
                open_id,
                member_id: format!("{}", 7_000_000_000u64 + i as u64),
                phone: format!("139{i:08}"),
            }
        })
        .collect();
    let hmac_us = started.elapsed().as_secs_f64() * 1e6 / PAGE as f64;
    let started = Instant::now();
    for p in &people {
        cipher.seal(&p.customer_id, "phone", &p.phone)?;
    }
    let seal_us = started.elapsed().as_secs_f64() * 1e6 / PAGE as f64;
    let dir = tempfile::tempdir()?;
    let store =
        portrait_sync::state::open(&format!("sqlite://{}/sync.db", dir.path().display())).await?;
    let started = Instant::now();
    let mut tx = store.begin().await?;
    portrait_sync::pii_store::write(&mut tx, key.as_bytes(), Some(&cipher), &people).await?;
    tx.commit().await?;
    let write_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let back = portrait_sync::pii_store::reveal(&store, &cipher, &people[42].customer_id).await?;
    let reveal_us = started.elapsed().as_secs_f64() * 1e6;
    let file = std::fs::metadata(dir.path().join("sync.db"))?.len()
        + std::fs::metadata(dir.path().join("sync.db-wal")).map_or(0, |m| m.len());
    println!("pseudonym (HMAC-SHA256): {hmac_us:.1} µs a customer");
    println!("seal one value (AES-256-GCM): {seal_us:.1} µs");
    println!(
        "a page of {PAGE} people (3 sealed values and a phone-index row each), one transaction: {write_ms:.0} ms"
    );
    println!(
        "reveal one customer: {reveal_us:.0} µs ({})",
        if back.is_some() { "found" } else { "missing" }
    );
    println!("sync store after the page: {:.1} MB", file as f64 / 1e6);
    Ok(())
}
