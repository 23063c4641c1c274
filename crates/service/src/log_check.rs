//! Noticing a log that went backwards: the broker came back empty, the topic
//! was re-created, or retention dropped records this consumer never read.
//! Each of these would leave the consumer waiting at a position the new log
//! only reaches with other records (which it would then skip), so it stops
//! applying and says so until `portrait rebuild` starts it over.

use std::collections::BTreeMap;

use portrait_bus::Bounds;

/// What a consumer remembers between checks: the ends it last saw.
#[derive(Debug, Default, Clone)]
pub(crate) struct Watch {
    ends: BTreeMap<i32, i64>,
}

impl Watch {
    /// Compares the stored positions with the log's bounds. Returns the first
    /// rule broken, in words naming topic, partition, position and log end.
    pub(crate) fn check(
        &mut self,
        topic: &str,
        positions: &BTreeMap<i32, i64>,
        bounds: &[Bounds],
    ) -> Option<String> {
        let mut found = None;
        for b in bounds {
            let previous = self.ends.insert(b.partition, b.end);
            if found.is_some() {
                continue;
            }
            let stored = positions.get(&b.partition).copied();
            found = broken(topic, b, stored, previous);
        }
        found
    }
}

/// A record read below the position already stored for its partition: the
/// client was reset to the start of a log that went backwards (librdkafka
/// does so when the stored offset is out of range) before a check saw it.
pub(crate) fn record_behind(
    topic: &str,
    positions: &BTreeMap<i32, i64>,
    records: impl IntoIterator<Item = (i32, i64)>,
) -> Option<String> {
    records.into_iter().find_map(|(partition, offset)| {
        let pos = positions.get(&partition).copied()?;
        (offset < pos).then(|| {
            format!(
                "{topic} partition {partition}: read offset {offset} below the stored position {pos}; the log was emptied or re-created"
            )
        })
    })
}

fn broken(topic: &str, b: &Bounds, stored: Option<i64>, previous: Option<i64>) -> Option<String> {
    let at = format!("{topic} partition {}", b.partition);
    if let Some(pos) = stored
        && pos > b.end
    {
        return Some(format!(
            "{at}: stored position {pos} is beyond the log's end {}; the log was emptied or re-created",
            b.end
        ));
    }
    if let Some(before) = previous
        && b.end < before
    {
        return Some(format!(
            "{at}: the log's end moved backwards from {before} to {}; the log was emptied or re-created",
            b.end
        ));
    }
    // A partition never read starts at the log's start, wherever that is.
    if let Some(pos) = stored
        && pos < b.start
    {
        return Some(format!(
            "{at}: the log starts at {} past the stored position {pos} (log end {}); records were dropped before they were applied",
            b.start, b.end
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(partition: i32, start: i64, end: i64) -> Bounds {
        Bounds {
            partition,
            start,
            end,
        }
    }

    fn pos(list: &[(i32, i64)]) -> BTreeMap<i32, i64> {
        list.iter().copied().collect()
    }

    #[test]
    fn a_healthy_log_passes() {
        let mut w = Watch::default();
        assert_eq!(
            w.check("t", &pos(&[(0, 5)]), &[b(0, 0, 10), b(1, 0, 3)]),
            None
        );
        assert_eq!(
            w.check("t", &pos(&[(0, 10)]), &[b(0, 0, 12), b(1, 0, 3)]),
            None
        );
        // At the very end, and a retention cut exactly at the position.
        assert_eq!(w.check("t", &pos(&[(0, 12)]), &[b(0, 12, 12)]), None);
    }

    #[test]
    fn a_position_beyond_the_end_is_named() {
        let mut w = Watch::default();
        let found = w
            .check("orders.v1", &pos(&[(0, 45_768)]), &[b(0, 0, 2_584)])
            .unwrap_or_default();
        assert!(found.contains("orders.v1 partition 0"), "{found}");
        assert!(found.contains("45768"), "{found}");
        assert!(found.contains("2584"), "{found}");
    }

    #[test]
    fn an_end_moving_backwards_is_caught_even_when_nothing_was_read() {
        let mut w = Watch::default();
        assert_eq!(w.check("t", &pos(&[]), &[b(0, 0, 100)]), None);
        let found = w.check("t", &pos(&[]), &[b(0, 0, 40)]).unwrap_or_default();
        assert!(found.contains("from 100 to 40"), "{found}");
    }

    #[test]
    fn a_record_below_the_stored_position_is_caught() {
        let stored = pos(&[(0, 10), (2, 4)]);
        assert_eq!(
            record_behind("t", &stored, [(0, 10), (0, 11), (1, 0), (2, 4)]),
            None
        );
        let found = record_behind("t", &stored, [(0, 10), (2, 3)]).unwrap_or_default();
        assert!(found.contains("partition 2"), "{found}");
        assert!(
            found.contains("read offset 3 below the stored position 4"),
            "{found}"
        );
    }

    #[test]
    fn a_start_past_the_position_is_caught() {
        let mut w = Watch::default();
        let found = w
            .check("t", &pos(&[(1, 7)]), &[b(0, 0, 1), b(1, 9, 20)])
            .unwrap_or_default();
        assert!(found.contains("partition 1"), "{found}");
        assert!(found.contains("starts at 9"), "{found}");
        // A partition this consumer never read may start anywhere.
        assert_eq!(Watch::default().check("t", &pos(&[]), &[b(0, 9, 20)]), None);
    }
}
