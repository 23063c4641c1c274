//! The response rate each expected effect assumes: the effect tracking's
//! measured rate of the type when it has one (its finished adoptions), else a
//! documented prior (docs/architecture.md §3 "Suggestions").

use portrait_proto::v1::SuggestionType;

/// The tracked rates: (type, rate, what it rests on), from the effect tracking.
pub(crate) type Tracked = Vec<(SuggestionType, f64, String)>;

/// The share of an audience expected to answer a campaign of `kind` with an
/// extra order, and where that figure comes from: tracked, else the prior.
pub(crate) fn response_rate(kind: SuggestionType, tracked: &Tracked) -> (f64, String) {
    if let Some((_, rate, source)) = tracked.iter().find(|(k, ..)| *k == kind) {
        return (*rate, format!("tracked: {source}"));
    }
    prior(kind)
}

/// The documented prior of `kind`.
fn prior(kind: SuggestionType) -> (f64, String) {
    // Conservative figures for a restaurant chain's direct marketing (coupon
    // redemption by message): warm audiences answer more than cold ones.
    let rate = match kind {
        SuggestionType::VipService => 0.20,
        SuggestionType::SegmentStrategy => 0.05,
        SuggestionType::ChurnWarning => 0.10,
        SuggestionType::Recommendation => 0.08,
        SuggestionType::SecondPurchase => 0.15,
        SuggestionType::WinBack => 0.05,
        SuggestionType::Unspecified => 0.0,
    };
    (
        rate,
        format!("prior: {:.0}%，尚无该类型的跟踪数据", rate * 100.0),
    )
}

/// Orders each responder is expected to place: one, the campaign's order.
pub(crate) const ORDERS_PER_RESPONDER: f64 = 1.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tracked_rate_replaces_the_prior_of_its_type_only() {
        let tracked: Tracked = vec![(SuggestionType::WinBack, 0.031, "2 次采纳".into())];
        let (rate, source) = response_rate(SuggestionType::WinBack, &tracked);
        assert_eq!((rate, source.as_str()), (0.031, "tracked: 2 次采纳"));
        let (rate, source) = response_rate(SuggestionType::ChurnWarning, &tracked);
        assert_eq!(rate, 0.10);
        assert!(source.starts_with("prior"), "{source}");
    }
}
