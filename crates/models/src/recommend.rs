//! Next-product recommendations for one customer from their own history and the
//! chain-wide co-occurrence counts, each with a reason a marketer can read.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;

use serde::Serialize;

use crate::cross::CoOccurrence;
use crate::{Error, Result};

/// How a customer has bought one item.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryItem<K> {
    pub item: K,
    /// Number of the customer's baskets that contained the item.
    pub baskets: u64,
}

/// Tuning of [`recommend`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// An item in at least this share of the customer's baskets (and in at least
    /// `routine_min_baskets` of them) is routine: they buy it anyway, so it is not suggested.
    pub routine_share: f64,
    pub routine_min_baskets: u64,
    /// Ignore pairs seen together in fewer baskets than this chain-wide (noise).
    pub min_pair_count: u64,
    /// Only rules with at least this lift count as evidence (1 = no better than chance).
    pub min_lift: f64,
    pub max_results: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            routine_share: 0.3,
            routine_min_baskets: 2,
            min_pair_count: 5,
            min_lift: 1.1,
            max_results: 5,
        }
    }
}

/// One suggested item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation<K> {
    pub item: K,
    /// Estimated chance that a basket of this customer contains the item: the customer's
    /// basket shares of their items, each times the chain-wide confidence item → candidate,
    /// averaged (a weighted mean of confidences, so between 0 and 1).
    pub score: f64,
    /// The history item that contributes most to the score.
    pub because_of: K,
    pub confidence: f64,
    pub lift: f64,
    pub reason: String,
}

/// Items the customer is likely to buy next, best first.
///
/// `total_baskets` is the customer's number of baskets; `history` their items with basket
/// counts. A customer without history gets no recommendation (an empty list).
pub fn recommend<K>(
    history: &[HistoryItem<K>],
    total_baskets: u64,
    co: &CoOccurrence<K>,
    settings: &Settings,
) -> Result<Vec<Recommendation<K>>>
where
    K: Eq + Hash + Ord + Clone + Display,
{
    if !(settings.routine_share.is_finite() && settings.min_lift.is_finite()) {
        return Err(Error::Argument {
            name: "settings",
            reason: "thresholds must be finite".into(),
        });
    }
    for (index, h) in history.iter().enumerate() {
        if h.baskets == 0 || h.baskets > total_baskets {
            return Err(Error::Invalid {
                index,
                reason: format!("{} baskets of {} out of {total_baskets}", h.baskets, h.item),
            });
        }
    }
    if history.is_empty() {
        return Ok(Vec::new());
    }
    let routine = |h: &HistoryItem<K>| {
        h.baskets >= settings.routine_min_baskets
            && h.baskets as f64 >= settings.routine_share * total_baskets as f64
    };
    let routine_items: Vec<&K> = history
        .iter()
        .filter(|h| routine(h))
        .map(|h| &h.item)
        .collect();
    let total_weight: f64 = history.iter().map(|h| h.baskets as f64).sum();
    // candidate → (weighted confidence sum, best contribution and its rule)
    let mut scores: HashMap<K, (f64, f64, K, f64, f64)> = HashMap::new();
    for h in history {
        let w = h.baskets as f64 / total_weight;
        for rule in co.top_partners(&h.item, usize::MAX, settings.min_pair_count) {
            if rule.lift < settings.min_lift || routine_items.contains(&&rule.consequent) {
                continue;
            }
            let contribution = w * rule.confidence;
            let e = scores.entry(rule.consequent.clone()).or_insert((
                0.0,
                -1.0,
                h.item.clone(),
                0.0,
                0.0,
            ));
            e.0 += contribution;
            if contribution > e.1 || (contribution == e.1 && h.item < e.2) {
                (e.1, e.2, e.3, e.4) = (contribution, h.item.clone(), rule.confidence, rule.lift);
            }
        }
    }
    let mut out: Vec<Recommendation<K>> = scores
        .into_iter()
        .map(|(item, (score, _, because_of, confidence, lift))| {
            let reason = format!(
                "often bought with {because_of}: {:.0}% of baskets with {because_of} also have {item} ({lift:.1}x the usual rate)",
                confidence * 100.0
            );
            Recommendation { item, score, because_of, confidence, lift, reason }
        })
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
    out.truncate(settings.max_results);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> CoOccurrence<String> {
        let mut co = CoOccurrence::new();
        let add = |co: &mut CoOccurrence<String>, items: &[&str], times: usize| {
            let v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
            (0..times).for_each(|_| co.add_basket(&v));
        };
        add(&mut co, &["noodles", "dumplings"], 30);
        add(&mut co, &["noodles", "soy milk"], 10);
        add(&mut co, &["coffee", "cake"], 20);
        add(&mut co, &["coffee"], 40);
        add(&mut co, &["dumplings"], 5);
        add(&mut co, &["cake"], 5);
        co
    }

    fn h(item: &str, baskets: u64) -> HistoryItem<String> {
        HistoryItem {
            item: item.to_string(),
            baskets,
        }
    }

    #[test]
    fn suggests_partners_with_a_reason_and_skips_routine_items() {
        let co = chain();
        // Buys noodles every time and dumplings routinely: suggest soy milk, not dumplings.
        let history = [h("noodles", 10), h("dumplings", 6)];
        let recs = recommend(&history, 10, &co, &Settings::default()).unwrap();
        assert_eq!(recs.len(), 1, "{recs:?}");
        assert_eq!(recs[0].item, "soy milk");
        assert_eq!(recs[0].because_of, "noodles");
        assert!(
            recs[0].reason.starts_with("often bought with noodles: 25%"),
            "{}",
            recs[0].reason
        );
        // An occasional dumpling buyer does get dumplings suggested.
        let recs = recommend(&[h("noodles", 10)], 10, &co, &Settings::default()).unwrap();
        assert_eq!(recs[0].item, "dumplings");
        assert!(recs[0].score > recs[1].score);
    }

    #[test]
    fn bad_history_is_an_error_and_empty_history_gives_nothing() {
        let co = chain();
        assert!(recommend(&[h("noodles", 11)], 10, &co, &Settings::default()).is_err());
        assert!(recommend(&[h("noodles", 0)], 10, &co, &Settings::default()).is_err());
        assert!(
            recommend::<String>(&[], 0, &co, &Settings::default())
                .unwrap()
                .is_empty()
        );
        let nan = Settings {
            min_lift: f64::NAN,
            ..Settings::default()
        };
        assert!(recommend(&[h("noodles", 1)], 10, &co, &nan).is_err());
    }
}
