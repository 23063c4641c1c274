//! The chain-wide segment assignment and its difference from the last one
//! published: pure code over the serving state, one pass by dense id.

use portrait_core::memory::{CustomerState, Selection};
use portrait_core::{Day, Rfm, RfmParams, RfmTable, rfm_table};
use portrait_proto::v1::SegmentPosition;

/// A customer's place as last published: 24 bytes, kept per dense customer
/// id, so a million customers cost 24 MB. Segment 0 = in no segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Place {
    pub monetary: i64,
    pub frequency: u32,
    pub recency: u32,
    pub segment: u8,
    /// R, F, M scores 1–5 (0 with no segment).
    pub scores: [u8; 3],
}

impl Place {
    pub fn of(r: &Rfm) -> Self {
        Self {
            monetary: r.monetary,
            // The bounds (domain.*) keep both far below u32::MAX; saturate anyway.
            frequency: u32::try_from(r.frequency.max(0)).unwrap_or(u32::MAX),
            recency: u32::try_from(r.recency_days.max(0)).unwrap_or(u32::MAX),
            segment: r.segment as u8,
            scores: [r.r_score, r.f_score, r.m_score],
        }
    }

    pub fn is_none(&self) -> bool {
        self.segment == 0
    }

    /// As the event carries it; None when in no segment.
    pub fn proto(&self) -> Option<SegmentPosition> {
        (!self.is_none()).then(|| SegmentPosition {
            segment: i32::from(self.segment),
            recency_days: i64::from(self.recency),
            frequency: i64::from(self.frequency),
            monetary_fen: self.monetary,
            r_score: i32::from(self.scores[0]),
            f_score: i32::from(self.scores[1]),
            m_score: i32::from(self.scores[2]),
        })
    }

    /// The scores as one stored integer: r·100 + f·10 + m.
    pub fn packed_scores(&self) -> i64 {
        let [r, f, m] = self.scores.map(i64::from);
        r * 100 + f * 10 + m
    }

    pub fn unpack_scores(packed: i64) -> [u8; 3] {
        let digit = |v: i64| u8::try_from(v.rem_euclid(10)).unwrap_or(0);
        [digit(packed / 100), digit(packed / 10), digit(packed)]
    }
}

/// One customer whose segment differs from the one last published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub customer: u32,
    pub before: Place,
    pub after: Place,
}

/// Every customer's RFM over all stores and all history (clipped by the
/// window), as of `as_of`: the table `GetSegmentDistribution` answers for
/// an empty filter with the configured settings, in dense id order.
pub fn chain_table(state: &CustomerState, as_of: Day, params: &RfmParams) -> RfmTable {
    let (from, to) = params.clip(None, as_of + 1, as_of);
    rfm_table(
        &state.book.aggs(&Selection::All, from, to),
        as_of,
        params.thresholds,
    )
}

/// The customers whose segment moved between `published` (by dense id; a
/// shorter slice means newer customers had none) and `table` (rows in dense
/// id order, as `chain_table` gives them). One merge pass.
pub fn diff(published: &[Place], table: &RfmTable) -> Vec<Change> {
    let mut out = Vec::new();
    let mut rows = table.customers.iter().peekable();
    let last = table
        .customers
        .last()
        .map_or(0, |r| r.customer as usize + 1);
    for c in 0..published.len().max(last) {
        let before = published.get(c).copied().unwrap_or_default();
        let after = match rows.peek() {
            Some(r) if r.customer as usize == c => rows.next().map(Place::of).unwrap_or_default(),
            _ => Place::default(),
        };
        if before.segment != after.segment {
            out.push(Change {
                customer: c as u32,
                before,
                after,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use portrait_core::Segment;

    fn rfm(customer: u32, segment: Segment, monetary: i64) -> Rfm {
        Rfm {
            customer,
            recency_days: 3,
            frequency: 2,
            monetary,
            r_score: 5,
            f_score: 4,
            m_score: 3,
            segment,
        }
    }

    fn table(customers: Vec<Rfm>) -> RfmTable {
        let t = rfm_table(&[], 0, portrait_core::ThresholdRule::Mean);
        RfmTable { customers, ..t }
    }

    #[test]
    fn entered_left_and_moved_are_found_in_one_pass_and_unchanged_segments_are_not() {
        let kept = Place::of(&rfm(0, Segment::GeneralValue, 10));
        let moving = Place::of(&rfm(1, Segment::GeneralKeep, 10));
        let leaving = Place::of(&rfm(3, Segment::ImportantValue, 99));
        let published = vec![kept, moving, Place::default(), leaving];
        let t = table(vec![
            // Values changed but not the segment: no event.
            rfm(0, Segment::GeneralValue, 500),
            rfm(1, Segment::ImportantKeep, 700),
            rfm(2, Segment::GeneralDevelop, 5),
            // Newer than the published slice: entered.
            rfm(5, Segment::GeneralWinBack, 1),
        ]);
        let changes = diff(&published, &t);
        let got: Vec<(u32, u8, u8)> = changes
            .iter()
            .map(|c| (c.customer, c.before.segment, c.after.segment))
            .collect();
        assert_eq!(got, vec![(1, 7, 3), (2, 0, 6), (3, 1, 0), (5, 0, 8)]);
        assert_eq!(changes[0].before, moving);
        assert_eq!(changes[0].after.monetary, 700);
        assert!(changes[2].after.proto().is_none());
        assert!(changes[1].before.proto().is_none());
    }

    #[test]
    fn scores_survive_packing() {
        let p = Place {
            scores: [5, 1, 3],
            ..Place::default()
        };
        assert_eq!(p.packed_scores(), 513);
        assert_eq!(Place::unpack_scores(513), [5, 1, 3]);
        assert_eq!(std::mem::size_of::<Place>(), 24);
    }
}
