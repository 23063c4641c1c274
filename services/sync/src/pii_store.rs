//! The reveal store and the phone index in sync's store (migration
//! `0009_pii_reveal`), and the check that the pseudonym key never changes
//! under a store whose ids were made with another.

use std::collections::BTreeMap;

use portrait_store::{Store, Tx};
use sqlx::Row;

use crate::pii::{Cipher, Identity, Sealed, key_check, pseudonym};
use crate::state::{ROWS_PER_STATEMENT, placeholders};
use crate::{Error, Result};

const KEY_CHECK: &str = "pii_key_check";

/// Refuses a job that would make ids no earlier job made: no key at all, a
/// key other than the one recorded, or a first key over orders already
/// mapped without one (their ids hold the raw values). Records the key's
/// check value on first use.
pub async fn check_key(store: &Store, key: Option<&[u8]>) -> Result<()> {
    let Some(key) = key else {
        return Err(Error::Config(
            "sync.pii_key is not set: customer ids would carry open ids, member ids and phones \
             (set PORTRAIT__SYNC__PII_KEY; docs/architecture.md §11 PII)"
                .into(),
        ));
    };
    let check = key_check(key);
    let recorded = sqlx::query("SELECT value FROM sync_state WHERE name = $1")
        .bind(KEY_CHECK)
        .fetch_optional(store.pool())
        .await?
        .map(|r| r.try_get::<i64, _>(0))
        .transpose()?;
    match recorded {
        Some(v) if v == check => Ok(()),
        Some(_) => Err(Error::Config(
            "sync.pii_key is not the key this store's customer ids were made with; changing it \
             needs empty stores and a full sync (docs/architecture.md §11 PII)"
                .into(),
        )),
        None => {
            let mapped: Option<i64> = sqlx::query("SELECT MAX(order_id) FROM sync_orders")
                .fetch_one(store.pool())
                .await?
                .try_get(0)?;
            if mapped.is_some() {
                return Err(Error::Config(
                    "sync's store holds orders mapped before sync.pii_key was set (their customer \
                     ids are raw values): start from empty stores and run a full sync \
                     (docs/architecture.md §11 PII)"
                        .into(),
                ));
            }
            sqlx::query("INSERT INTO sync_state (name, value) VALUES ($1, $2)")
                .bind(KEY_CHECK)
                .bind(check)
                .execute(store.pool())
                .await?;
            Ok(())
        }
    }
}

/// Writes the phone index (always) and, with a cipher, the sealed copies of a
/// page's identities; the last identity of a customer in the page wins.
pub async fn write(
    tx: &mut Tx,
    key: &[u8],
    cipher: Option<&Cipher>,
    identities: &[Identity],
) -> Result<()> {
    let mut phones: BTreeMap<String, &str> = BTreeMap::new();
    let mut sealed: BTreeMap<(&str, &str), Sealed> = BTreeMap::new();
    for i in identities {
        if !i.phone.is_empty() {
            phones.insert(pseudonym(key, "tel", &i.phone), &i.customer_id);
        }
        if let Some(c) = cipher {
            for (field, value) in i.fields() {
                sealed.insert(
                    (i.customer_id.as_str(), field),
                    c.seal(&i.customer_id, field, value)?,
                );
            }
        }
    }
    let phones: Vec<(String, &str)> = phones.into_iter().collect();
    for chunk in phones.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO pii_phones (phone_id, customer_id) VALUES {} \
             ON CONFLICT (phone_id) DO UPDATE SET customer_id = excluded.customer_id",
            placeholders(chunk.len(), 2)
        );
        let mut q = sqlx::query(&sql);
        for (phone_id, customer_id) in chunk {
            q = q.bind(phone_id.as_str()).bind(*customer_id);
        }
        q.execute(&mut **tx).await?;
    }
    let sealed: Vec<((&str, &str), Sealed)> = sealed.into_iter().collect();
    for chunk in sealed.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO pii_reveal (customer_id, field, nonce, sealed) VALUES {} \
             ON CONFLICT (customer_id, field) DO UPDATE SET nonce = excluded.nonce, sealed = excluded.sealed",
            placeholders(chunk.len(), 4)
        );
        let mut q = sqlx::query(&sql);
        for ((customer_id, field), s) in chunk {
            q = q
                .bind(*customer_id)
                .bind(*field)
                .bind(s.nonce.as_slice())
                .bind(s.sealed.as_slice());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// The customer a phone's latest order mapped to (`phone_id` = the phone's
/// `tel:` pseudonym), if any order carried that phone.
pub async fn customer_of_phone(store: &Store, phone_id: &str) -> Result<Option<String>> {
    Ok(
        sqlx::query("SELECT customer_id FROM pii_phones WHERE phone_id = $1")
            .bind(phone_id)
            .fetch_optional(store.pool())
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?,
    )
}

/// The plain values kept for `customer_id`; `None` when nothing is kept.
pub async fn reveal(store: &Store, cipher: &Cipher, customer_id: &str) -> Result<Option<Identity>> {
    let rows = sqlx::query("SELECT field, nonce, sealed FROM pii_reveal WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_all(store.pool())
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut out = Identity {
        customer_id: customer_id.to_owned(),
        ..Default::default()
    };
    for r in rows {
        let field: String = r.try_get(0)?;
        let row = Sealed {
            nonce: r.try_get(1)?,
            sealed: r.try_get(2)?,
        };
        let plain = cipher.open(customer_id, &field, &row)?;
        match field.as_str() {
            "open_id" => out.open_id = plain,
            "member_id" => out.member_id = plain,
            "phone" => out.phone = plain,
            other => {
                return Err(Error::Corrupt(format!(
                    "reveal row of an unknown field {other:?}"
                )));
            }
        }
    }
    Ok(Some(out))
}
