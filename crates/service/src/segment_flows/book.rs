//! Segment flows in memory: per day and (from, to), the customers who went
//! that way, with the dedupe by sequence number. Pure: the follower commits a
//! batch's changes, then applies them here.

use std::collections::BTreeMap;

use portrait_bus::Record;
use portrait_core::{Calendar, Day};
use portrait_proto::v1::{SegmentFlow, SegmentTransition};
use prost::Message as _;

/// (day, from, to); segment 0 = none.
pub(crate) type FlowKey = (Day, u8, u8);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FlowBook {
    pub(crate) flows: BTreeMap<FlowKey, i64>,
    /// Per partition, the highest sequence number applied.
    pub(crate) last: BTreeMap<i32, i64>,
    pub(crate) applied: i64,
    pub(crate) duplicates: i64,
}

/// What one batch of records changes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FlowBatch {
    pub(crate) add: BTreeMap<FlowKey, i64>,
    pub(crate) last: BTreeMap<i32, i64>,
    /// Per partition, the next offset to read.
    pub(crate) positions: BTreeMap<i32, i64>,
    pub(crate) applied: i64,
    pub(crate) duplicates: i64,
    pub(crate) unreadable: i64,
}

fn segment(s: Option<&portrait_proto::v1::SegmentPosition>) -> u8 {
    s.map_or(0, |p| u8::try_from(p.segment).unwrap_or(0))
}

impl FlowBook {
    /// Reads `records`: a record at or below its partition's last applied
    /// sequence is a re-send and dropped; days before `keep_from` are applied
    /// (their sequence counts) but not kept.
    pub(crate) fn batch(&self, records: &[Record], keep_from: Day) -> FlowBatch {
        let mut b = FlowBatch {
            last: self.last.clone(),
            ..FlowBatch::default()
        };
        for r in records {
            let pos = b.positions.entry(r.partition).or_default();
            *pos = (*pos).max(r.offset + 1);
            let event = portrait_bus::unreadable_bundle(r)
                .is_none()
                .then(|| SegmentTransition::decode(r.payload.as_slice()).ok())
                .flatten();
            let day = event
                .as_ref()
                .and_then(|e| Calendar::parse_day("as_of_date", &e.as_of_date).ok());
            let (Some(e), Some(day)) = (event, day) else {
                tracing::warn!(
                    partition = r.partition,
                    offset = r.offset,
                    "unreadable segment transition skipped"
                );
                b.unreadable += 1;
                continue;
            };
            let last = b.last.entry(r.partition).or_default();
            if e.sequence <= *last {
                b.duplicates += 1;
                continue;
            }
            *last = e.sequence;
            b.applied += 1;
            if day >= keep_from {
                let key = (day, segment(e.before.as_ref()), segment(e.after.as_ref()));
                *b.add.entry(key).or_default() += 1;
            }
        }
        b
    }

    /// A committed batch, then the days before `keep_from` dropped.
    pub(crate) fn apply(&mut self, b: &FlowBatch, keep_from: Day) {
        for (k, n) in &b.add {
            *self.flows.entry(*k).or_default() += n;
        }
        self.last.extend(&b.last);
        self.applied += b.applied;
        self.duplicates += b.duplicates;
        self.prune(keep_from);
    }

    pub(crate) fn prune(&mut self, keep_from: Day) {
        self.flows = self.flows.split_off(&(keep_from, 0, 0));
    }

    /// Flows on days in `[from, to)`, by day, from, to.
    pub(crate) fn flows(&self, from: Option<Day>, to: Option<Day>) -> Vec<SegmentFlow> {
        self.flows
            .range((from.unwrap_or(Day::MIN), 0, 0)..)
            .take_while(|((day, _, _), _)| to.is_none_or(|t| *day < t))
            .filter(|(_, n)| **n != 0)
            .map(|(&(day, from, to), &customers)| SegmentFlow {
                date: Calendar::format_day(day),
                from: i32::from(from),
                to: i32::from(to),
                customers,
            })
            .collect()
    }

    pub(crate) fn last_sequence(&self) -> i64 {
        self.last.values().copied().max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portrait_proto::v1::SegmentPosition;

    fn record(partition: i32, offset: i64, sequence: i64, day: &str, from: i32, to: i32) -> Record {
        let place = |s: i32| {
            (s != 0).then(|| SegmentPosition {
                segment: s,
                ..Default::default()
            })
        };
        let e = SegmentTransition {
            sequence,
            customer_id: format!("c{sequence}"),
            as_of_date: day.into(),
            before: place(from),
            after: place(to),
            ..Default::default()
        };
        Record {
            topic: "t".into(),
            partition,
            offset,
            key: e.customer_id.clone(),
            payload: e.encode_to_vec(),
            headers: Vec::new(),
        }
    }

    #[test]
    fn a_resent_sequence_is_dropped_per_partition_and_old_days_are_not_kept() {
        let day = |s| Calendar::parse_day("d", s).unwrap_or_default();
        let mut book = FlowBook::default();
        let first = [
            record(0, 0, 1, "2026-01-02", 0, 3),
            record(1, 0, 2, "2026-01-02", 0, 3),
            record(0, 1, 4, "2026-01-03", 3, 1),
            record(0, 2, 5, "2025-12-01", 1, 0),
        ];
        let b = book.batch(&first, day("2026-01-01"));
        assert_eq!((b.applied, b.duplicates), (4, 0));
        book.apply(&b, day("2026-01-01"));
        // The relay sent 4 and 5 again, then 6; partition 1 is behind at 2,
        // so its 3 is fresh there.
        let again = [
            record(0, 3, 4, "2026-01-03", 3, 1),
            record(0, 4, 5, "2025-12-01", 1, 0),
            record(0, 5, 6, "2026-01-03", 3, 1),
            record(1, 1, 3, "2026-01-03", 0, 8),
            record(1, 2, 3, "2026-01-03", 0, 8),
            Record {
                payload: b"\xff".to_vec(),
                ..record(1, 3, 9, "2026-01-03", 0, 8)
            },
        ];
        let b = book.batch(&again, day("2026-01-01"));
        assert_eq!((b.applied, b.duplicates, b.unreadable), (2, 3, 1));
        assert_eq!(b.positions, BTreeMap::from([(0, 6), (1, 4)]));
        book.apply(&b, day("2026-01-03"));
        let got: Vec<(String, i32, i32, i64)> = book
            .flows(None, None)
            .into_iter()
            .map(|f| (f.date, f.from, f.to, f.customers))
            .collect();
        assert_eq!(
            got,
            vec![
                ("2026-01-03".into(), 0, 8, 1),
                ("2026-01-03".into(), 3, 1, 2),
            ]
        );
        assert_eq!((book.applied, book.duplicates), (6, 3));
        assert_eq!(book.last_sequence(), 6);
        assert!(book.flows(None, Some(day("2026-01-03"))).is_empty());
    }
}
