//! Many log records in one Kafka record (`bus.bundle_records`).
//!
//! Why: a broker that must take one record per produced batch (tansu 0.6,
//! see `bus.max_batch_records`) pays a round trip per record; a bundle makes
//! that one round trip per few thousand events. Each bundle goes to the
//! partition its entries' keys would have had as plain records, so turning
//! bundling on or off never moves a key, and readers take the entries as
//! records of the bundle's partition and offset: a position after a bundle is
//! after every entry in it.

use std::collections::BTreeMap;

use portrait_proto::v1::{Bundle, BundleEntry, BundleHeader};
use prost::Message as _;

use crate::{Message, Record};

/// The header that marks a bundle; its value is the format's version.
pub const BUNDLE_HEADER: &str = "portrait-bundle";
/// On a record returned as it was because its bundle could not be read.
pub const BUNDLE_ERROR_HEADER: &str = "portrait-bundle-error";
const VERSION: &str = "1";

/// Bytes of entries per bundle at most: well under librdkafka's and Kafka's
/// default largest message (1,000,000 bytes).
pub(crate) const MAX_BUNDLE_BYTES: usize = 512 * 1024;

/// librdkafka's default partitioner (`consistent_random`) for a non-empty
/// key: CRC-32 of the key modulo the partition count. An empty key, which
/// librdkafka places at random, goes to partition 0.
pub(crate) fn partition_of(key: &str, partitions: i32) -> i32 {
    if key.is_empty() || partitions <= 1 {
        return 0;
    }
    // partitions > 1 here, so the remainder fits an i32.
    (crc32fast::hash(key.as_bytes()) % partitions.unsigned_abs()) as i32
}

/// `messages` as bundles of at most `max_records` entries and about
/// `max_bytes`, per partition in their order: (partition, payload).
pub(crate) fn pack(
    messages: &[Message],
    partitions: i32,
    max_records: usize,
    max_bytes: usize,
) -> Vec<(i32, Vec<u8>)> {
    let mut by_partition: BTreeMap<i32, Vec<BundleEntry>> = BTreeMap::new();
    for m in messages {
        by_partition
            .entry(partition_of(&m.key, partitions))
            .or_default()
            .push(BundleEntry {
                key: m.key.clone(),
                payload: m.payload.clone(),
                headers: m
                    .headers
                    .iter()
                    .map(|(key, value)| BundleHeader {
                        key: key.clone(),
                        value: value.clone(),
                    })
                    .collect(),
            });
    }
    let mut out = Vec::new();
    for (partition, entries) in by_partition {
        let mut bundle = Bundle::default();
        let mut bytes = 0;
        for entry in entries {
            let size = entry.encoded_len() + 8;
            if !bundle.entries.is_empty()
                && (bundle.entries.len() >= max_records || bytes + size > max_bytes)
            {
                out.push((partition, std::mem::take(&mut bundle).encode_to_vec()));
                bytes = 0;
            }
            bytes += size;
            bundle.entries.push(entry);
        }
        if !bundle.entries.is_empty() {
            out.push((partition, bundle.encode_to_vec()));
        }
    }
    out
}

/// The headers a bundle is published with.
pub(crate) fn headers() -> [(&'static str, &'static str); 1] {
    [(BUNDLE_HEADER, VERSION)]
}

/// A record as the records it stands for: a bundle's entries, or itself.
/// A bundle that cannot be read comes back whole with
/// [`BUNDLE_ERROR_HEADER`] saying why, for the reader to dead-letter.
pub(crate) fn unpack(record: Record, out: &mut Vec<Record>) {
    let Some(version) = record
        .headers
        .iter()
        .find(|(k, _)| k == BUNDLE_HEADER)
        .map(|(_, v)| v.as_str())
    else {
        out.push(record);
        return;
    };
    let reason = if version == VERSION {
        match Bundle::decode(record.payload.as_slice()) {
            Ok(bundle) => {
                out.extend(bundle.entries.into_iter().map(|e| Record {
                    topic: record.topic.clone(),
                    partition: record.partition,
                    offset: record.offset,
                    key: e.key,
                    payload: e.payload,
                    headers: e.headers.into_iter().map(|h| (h.key, h.value)).collect(),
                }));
                return;
            }
            Err(e) => format!("not a Bundle: {e}"),
        }
    } else {
        format!("bundle format {version:?} is not known (this reader knows {VERSION:?})")
    };
    let mut record = record;
    record
        .headers
        .push((BUNDLE_ERROR_HEADER.to_owned(), reason));
    out.push(record);
}

/// Why a record could not be read as a bundle, if it is one that could not.
pub fn unreadable_bundle(record: &Record) -> Option<&str> {
    record
        .headers
        .iter()
        .find(|(k, _)| k == BUNDLE_ERROR_HEADER)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests;
