use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Sync from the chain's order database (`cyrg2025`). Every mapping rule a chain
/// may see differently is a key here; docs/sync.md explains each.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSettings {
    /// `mysql://`, `mariadb://` or `postgres://` URL of the source; empty = no source.
    /// A secret: never logged unredacted, never accepted over the API.
    pub source: String,
    /// Sync's own store (watermark, jobs, findings); empty = `sqlite://<data_dir>/sync.db`.
    pub store_url: String,
    /// Local `HH:MM` of the daily incremental run; empty = off. Only runs with a source.
    pub daily_at: String,
    /// Days of `recordTime` an incremental run re-reads to catch late refunds and deletions.
    pub reread_days: i64,
    /// Source orders read per query.
    pub page_size: i64,
    /// `payState` values that mean paid.
    pub paid_states: Vec<i64>,
    /// Time zone of `recordTime`; empty = `domain.time_zone`.
    pub time_zone: String,
    /// `takeoutName` substring → channel (`meituan`, `eleme`, `douyin`, `wechat_mini`, `pos`).
    pub platforms: BTreeMap<String, String>,
    /// Suffixes stripped from a city name (`上海市` → `上海`).
    pub city_suffixes: Vec<String>,
    /// HMAC-SHA256 key for member phones; empty = phones are not used at all.
    pub phone_key: String,
    /// A line or refund above this many fen is absurd and rejects its order.
    pub max_amount_fen: i64,
    /// Lines may differ from `cash` by this many fen before it is a finding.
    pub mismatch_tolerance_fen: i64,
    /// Reject an order whose lines do not add up to `cash` (default: keep the lines' sum).
    pub reject_mismatch: bool,
    /// Drop a line identical to an earlier line of the same order.
    pub drop_duplicate_lines: bool,
    /// An order whose refunds bring it to zero is a retraction, not a zero-amount order.
    pub full_refund_retracts: bool,
    /// Samples per reason in the data-quality report.
    pub report_samples: i64,
    /// Findings are kept for this many most recent jobs (the jobs themselves stay).
    pub keep_findings_jobs: i64,
    /// HMAC-SHA256 key of the customer pseudonyms (`wx:`, `vip:`, `tel:`); empty =
    /// `phone_key` (its older name). A secret; the sync maps no customer without it.
    pub pii_key: String,
    /// AES-256-GCM key (32 bytes, base64) of the reveal store's encrypted copies of
    /// open ids, member ids and phones; empty = nothing kept, nothing revealed.
    pub pii_encryption_key: String,
}

impl std::fmt::Debug for SyncSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncSettings")
            .field("source", &portrait_store::redact(&self.source))
            .field("store_url", &portrait_store::redact(&self.store_url))
            .field("daily_at", &self.daily_at)
            .field("reread_days", &self.reread_days)
            .field(
                "phone_key",
                &if self.phone_key.is_empty() { "" } else { "***" },
            )
            .field("pii_key", &if self.pii_key.is_empty() { "" } else { "***" })
            .field(
                "pii_encryption_key",
                &if self.pii_encryption_key.is_empty() {
                    ""
                } else {
                    "***"
                },
            )
            .finish_non_exhaustive()
    }
}

impl SyncSettings {
    pub(super) fn defaults() -> Self {
        Self {
            source: String::new(),
            store_url: String::new(),
            daily_at: "03:30".into(),
            reread_days: 14,
            page_size: 5000,
            paid_states: vec![2],
            time_zone: String::new(),
            platforms: [("美团", "meituan"), ("饿了么", "eleme"), ("抖音", "douyin")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            city_suffixes: vec!["市".into()],
            phone_key: String::new(),
            max_amount_fen: 1_000_000,
            mismatch_tolerance_fen: 0,
            reject_mismatch: false,
            drop_duplicate_lines: true,
            full_refund_retracts: true,
            report_samples: 5,
            keep_findings_jobs: 30,
            pii_key: String::new(),
            pii_encryption_key: String::new(),
        }
    }

    /// Refuses settings that cannot work; the message names the key.
    pub(super) fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        let source = self.source.trim();
        if !source.is_empty()
            && !["mysql://", "mariadb://", "postgres://", "postgresql://"]
                .iter()
                .any(|p| source.starts_with(p))
        {
            return bad(format!(
                "sync.source {:?} must start with mysql://, mariadb:// or postgres://",
                portrait_store::redact(source)
            ));
        }
        if !self.daily_at.is_empty() && parse_hh_mm(&self.daily_at).is_none() {
            return bad(format!(
                "sync.daily_at {:?} must be HH:MM (local time) or empty",
                self.daily_at
            ));
        }
        if !(0..=3650).contains(&self.reread_days) {
            return bad("sync.reread_days must be 0-3650".into());
        }
        if !(1..=100_000).contains(&self.page_size) {
            return bad("sync.page_size must be 1-100000".into());
        }
        if self.paid_states.is_empty() {
            return bad("sync.paid_states must name at least one payState".into());
        }
        for (name, channel) in &self.platforms {
            if name.trim().is_empty() {
                return bad("sync.platforms has an empty takeoutName".into());
            }
            if !["meituan", "eleme", "douyin", "wechat_mini", "pos"].contains(&channel.as_str()) {
                return bad(format!(
                    "sync.platforms.{name} = {channel:?} is not one of meituan, eleme, douyin, wechat_mini, pos"
                ));
            }
        }
        if self.max_amount_fen <= 0 {
            return bad("sync.max_amount_fen must be positive".into());
        }
        if self.mismatch_tolerance_fen < 0 {
            return bad("sync.mismatch_tolerance_fen must not be negative".into());
        }
        if self.keep_findings_jobs < 1 {
            return bad("sync.keep_findings_jobs must be at least 1".into());
        }
        if !(0..=100).contains(&self.report_samples) {
            return bad("sync.report_samples must be 0-100".into());
        }
        if !self.time_zone.is_empty() && portrait_core::Calendar::new(&self.time_zone).is_err() {
            return bad(format!(
                "sync.time_zone {:?} is not an IANA time zone",
                self.time_zone
            ));
        }
        Ok(())
    }
}

/// `HH:MM` as (hour, minute).
pub fn parse_hh_mm(text: &str) -> Option<(u32, u32)> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (h < 24 && m < 60 && text.trim().len() == 5).then_some((h, m))
}
