//! An RFM list: its order, its score selection and its page tokens.

use std::cmp::Ordering;

use portrait_proto::v1::RfmOrder as ProtoOrder;

use super::{Rfm, RfmTable};
use crate::memory::Interner;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RfmKey {
    CustomerId,
    Recency,
    Frequency,
    Monetary,
    /// r_score + f_score + m_score.
    Score,
}

impl RfmKey {
    /// The sort value; the customer id order has none (0), its names decide.
    pub fn of(self, r: &Rfm) -> i64 {
        match self {
            RfmKey::CustomerId => 0,
            RfmKey::Recency => r.recency_days,
            RfmKey::Frequency => r.frequency,
            RfmKey::Monetary => r.monetary,
            RfmKey::Score => i64::from(r.r_score) + i64::from(r.f_score) + i64::from(r.m_score),
        }
    }
}

/// A list's order: by `key`, reversed when `descending`, ties by customer id
/// ascending (for the id order itself, `descending` reverses the ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RfmOrder {
    pub key: RfmKey,
    pub descending: bool,
}

impl RfmOrder {
    pub fn resolve(order_by: i32, descending: bool) -> Result<Self> {
        let key = match ProtoOrder::try_from(order_by) {
            Ok(ProtoOrder::Unspecified | ProtoOrder::CustomerId) => RfmKey::CustomerId,
            Ok(ProtoOrder::Recency) => RfmKey::Recency,
            Ok(ProtoOrder::Frequency) => RfmKey::Frequency,
            Ok(ProtoOrder::Monetary) => RfmKey::Monetary,
            Ok(ProtoOrder::Score) => RfmKey::Score,
            Err(_) => {
                return Err(Error::invalid(
                    "order_by",
                    format!("unknown order {order_by}"),
                ));
            }
        };
        Ok(Self { key, descending })
    }

    /// Where (key, customer id) `a` stands against `b` in this order.
    pub fn cmp(self, a: (i64, &str), b: (i64, &str)) -> Ordering {
        match (self.key, self.descending) {
            (RfmKey::CustomerId, false) => a.1.cmp(b.1),
            (RfmKey::CustomerId, true) => b.1.cmp(a.1),
            (_, false) => a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)),
            (_, true) => b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)),
        }
    }
}

/// Positions into `table.customers` in `order`: first in customer id order,
/// then sorted by (key, rank in id order), so ties keep id order without
/// comparing strings. The id order comes from the interner's name order when
/// the population is a good part of everyone, else from sorting its names.
pub fn rfm_order(table: &RfmTable, names: &Interner, order: RfmOrder) -> Vec<u32> {
    let n = table.customers.len();
    let mut by_id: Vec<u32> = if n.saturating_mul(8) >= names.len() {
        let mut at = vec![u32::MAX; names.len()];
        for (i, c) in table.customers.iter().enumerate() {
            if let Some(slot) = at.get_mut(c.customer as usize) {
                *slot = i as u32;
            }
        }
        (names.sorted())
            .map(|(_, id)| at[id as usize])
            .filter(|i| *i != u32::MAX)
            .collect()
    } else {
        let mut v: Vec<u32> = (0..n as u32).collect();
        let name = |i: &u32| names.name(table.customers[*i as usize].customer);
        v.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        v
    };
    let key = |i: u32| order.key.of(&table.customers[i as usize]);
    // (key, rank) pairs are unique, so an unstable sort is exact.
    match (order.key, order.descending) {
        (RfmKey::CustomerId, false) => by_id,
        (RfmKey::CustomerId, true) => {
            by_id.reverse();
            by_id
        }
        (_, false) => {
            let mut pairs: Vec<(i64, u32)> = (by_id.iter().enumerate())
                .map(|(rank, &i)| (key(i), rank as u32))
                .collect();
            pairs.sort_unstable();
            pairs
                .iter()
                .map(|(_, rank)| by_id[*rank as usize])
                .collect()
        }
        (_, true) => {
            let mut pairs: Vec<(std::cmp::Reverse<i64>, u32)> = (by_id.iter().enumerate())
                .map(|(rank, &i)| (std::cmp::Reverse(key(i)), rank as u32))
                .collect();
            pairs.sort_unstable();
            pairs
                .iter()
                .map(|(_, rank)| by_id[*rank as usize])
                .collect()
        }
    }
}

/// Where a page starts: the first position after `token`'s (key, id) in the
/// order. The token's customer may have left the list since; the order of
/// the rest is unchanged, so the page still starts where it should.
pub fn start_after(
    positions: &[u32],
    table: &RfmTable,
    names: &Interner,
    order: RfmOrder,
    token: &PageToken,
) -> usize {
    positions.partition_point(|&i| {
        let c = &table.customers[i as usize];
        let here = (order.key.of(c), names.name(c.customer));
        order.cmp(here, (token.key, &token.customer)) != Ordering::Greater
    })
}

/// Scores a list accepts, per dimension as a bit mask over 1-5; empty = any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreSelection([u8; 3]);

impl ScoreSelection {
    pub fn resolve(r: &[i32], f: &[i32], m: &[i32]) -> Result<Self> {
        let mask = |field: &str, scores: &[i32]| -> Result<u8> {
            if scores.is_empty() {
                return Ok(0b11111);
            }
            let mut mask = 0;
            for (i, s) in scores.iter().enumerate() {
                if !(1..=5).contains(s) {
                    let reason = format!("a score is 1-5, not {s}");
                    return Err(Error::invalid(format!("{field}[{i}]"), reason));
                }
                mask |= 1 << (s - 1);
            }
            Ok(mask)
        };
        Ok(Self([
            mask("r_scores", r)?,
            mask("f_scores", f)?,
            mask("m_scores", m)?,
        ]))
    }

    pub fn accepts(&self, c: &Rfm) -> bool {
        [c.r_score, c.f_score, c.m_score]
            .iter()
            .zip(self.0)
            .all(|(s, mask)| (1..=5).contains(s) && mask & (1 << (s - 1)) != 0)
    }
}

/// A request's identity for its page tokens: FNV-1a over its encoding with
/// the page fields cleared. Stable across processes and releases (unlike
/// std's hasher), so a token survives a restart or another replica.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Where the previous page ended, and which request it belongs to (AIP-158:
/// a token from another order, filter or setting is refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken {
    pub request: u64,
    pub key: i64,
    pub customer: String,
}

impl PageToken {
    /// Opaque to callers: hex of (request, key, customer id).
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(16 + self.customer.len());
        bytes.extend_from_slice(&self.request.to_be_bytes());
        bytes.extend_from_slice(&self.key.to_be_bytes());
        bytes.extend_from_slice(self.customer.as_bytes());
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The token of a page, `None` for the first; `request` is the asking
    /// request's fingerprint, which must be the one the token was issued to.
    pub fn decode(text: &str, request: u64) -> Result<Option<Self>> {
        if text.is_empty() {
            return Ok(None);
        }
        let foreign = || Error::invalid("page_token", "not a token this service issued");
        let bytes: Vec<u8> = (text.is_ascii() && text.len().is_multiple_of(2))
            .then(|| {
                (0..text.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
                    .collect::<Option<Vec<u8>>>()
            })
            .flatten()
            .filter(|b| b.len() > 16)
            .ok_or_else(foreign)?;
        let word = |at: usize| {
            let mut w = [0; 8];
            w.copy_from_slice(&bytes[at..at + 8]);
            w
        };
        let customer = String::from_utf8(bytes[16..].to_vec()).map_err(|_| foreign())?;
        let token = Self {
            request: u64::from_be_bytes(word(0)),
            key: i64::from_be_bytes(word(8)),
            customer,
        };
        if token.request != request {
            return Err(Error::invalid(
                "page_token",
                "issued for a different request: the order, filter, selection and RFM settings must stay the same between pages",
            ));
        }
        Ok(Some(token))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::rfm::{CustomerAgg, ThresholdRule, rfm_table};

    const KEYS: [RfmKey; 5] = [
        RfmKey::CustomerId,
        RfmKey::Recency,
        RfmKey::Frequency,
        RfmKey::Monetary,
        RfmKey::Score,
    ];

    /// A population whose dense ids are not in name order, as in the service.
    fn population(rows: &[(i64, i64, i32)], idle: usize) -> (RfmTable, Interner) {
        let mut names = Interner::default();
        let mut aggs = Vec::new();
        for (i, &(orders, revenue, last)) in rows.iter().enumerate() {
            // Interned out of order, beside `idle` names that never order.
            let name = format!("c{:03}", (i * 37) % 101);
            let id = names.intern(&name);
            for j in 0..idle {
                names.intern(&format!("{name}-idle{j}"));
            }
            aggs.push(CustomerAgg {
                customer: id,
                orders,
                revenue,
                first_day: 0,
                last_day: last,
            });
        }
        aggs.sort_by_key(|a| a.customer);
        (rfm_table(&aggs, 30, ThresholdRule::Mean), names)
    }

    proptest! {
        #[test]
        fn orders_and_page_starts_equal_a_plain_sort(
            rows in prop::collection::vec((1_i64..4, 0_i64..50, 0_i32..10), 0..60),
            cut in 0_usize..80,
            // Few idle names: the interner's order is walked; many: names sorted.
            idle in prop::sample::select(vec![0_usize, 1, 12]),
        ) {
            let (table, names) = population(&rows, idle);
            for key in KEYS {
                for descending in [false, true] {
                    let order = RfmOrder { key, descending };
                    // The definition, written out: the key as a tuple with the name.
                    let mut want: Vec<(i64, String)> = (table.customers.iter())
                        .map(|c| (key.of(c), names.name(c.customer).to_owned()))
                        .collect();
                    want.sort_by(|a, b| {
                        let by_name = a.1.cmp(&b.1);
                        match (key, descending) {
                            (RfmKey::CustomerId, false) => by_name,
                            (RfmKey::CustomerId, true) => by_name.reverse(),
                            (_, false) => a.0.cmp(&b.0).then(by_name),
                            (_, true) => b.0.cmp(&a.0).then(by_name),
                        }
                    });
                    let got: Vec<(i64, String)> = (rfm_order(&table, &names, order).iter())
                        .map(|&i| &table.customers[i as usize])
                        .map(|c| (key.of(c), names.name(c.customer).to_owned()))
                        .collect();
                    prop_assert_eq!(&got, &want, "{:?}", order);
                    // A page after entry `cut` starts at the entry after it.
                    if let Some((k, name)) = want.get(cut) {
                        let positions = rfm_order(&table, &names, order);
                        let token = PageToken { request: 1, key: *k, customer: name.clone() };
                        prop_assert_eq!(start_after(&positions, &table, &names, order, &token), cut + 1);
                    }
                }
            }
        }
    }

    #[test]
    fn a_page_resumes_after_a_customer_who_left() {
        let (table, names) = population(&[(1, 10, 5), (2, 20, 6), (3, 30, 7)], 1);
        let order = RfmOrder {
            key: RfmKey::Monetary,
            descending: true,
        };
        let positions = rfm_order(&table, &names, order);
        // Someone with 25 fen who is no longer listed: next is the 20 fen one.
        let token = PageToken {
            request: 0,
            key: 25,
            customer: "zzz".into(),
        };
        let start = start_after(&positions, &table, &names, order, &token);
        assert_eq!(table.customers[positions[start] as usize].monetary, 20);
    }

    #[test]
    fn tokens_round_trip_and_refuse_other_requests_and_garbage() {
        let t = PageToken {
            request: fingerprint(b"request"),
            key: -3,
            customer: "客户-7".into(),
        };
        let text = t.encode();
        assert_eq!(PageToken::decode(&text, t.request), Ok(Some(t.clone())));
        assert_eq!(PageToken::decode("", t.request), Ok(None));
        let other = fingerprint(b"other request");
        assert_ne!(other, t.request);
        for (text, request) in [
            (text.as_str(), other),
            ("c0001", t.request),
            ("zz", t.request),
            (&text[..32], t.request),
            ("é", t.request),
        ] {
            match PageToken::decode(text, request) {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "page_token"),
                other => panic!("{text:?} accepted: {other:?}"),
            }
        }
    }

    #[test]
    fn score_selection_masks_and_names_the_bad_entry() {
        let s = ScoreSelection::resolve(&[4, 5], &[], &[1]).unwrap();
        let (table, _) = population(&[(1, 10, 5)], 0);
        let mut c = table.customers[0].clone();
        (c.r_score, c.f_score, c.m_score) = (5, 3, 1);
        assert!(s.accepts(&c));
        c.r_score = 3;
        assert!(!s.accepts(&c));
        match ScoreSelection::resolve(&[], &[2, 6], &[]) {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "f_scores[1]"),
            other => panic!("accepted: {other:?}"),
        }
        assert!(RfmOrder::resolve(9, false).is_err());
    }
}
