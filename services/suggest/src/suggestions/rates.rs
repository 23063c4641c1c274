//! The response rate each expected effect assumes. Today a documented prior per
//! type (docs/architecture.md §3 "Suggestions"); the effect tracking's measured
//! rates replace it here, in one place.

use portrait_proto::v1::SuggestionType;

/// The share of an audience expected to answer a campaign of `kind` with an
/// order inside the suggestion's validity, and where that figure comes from.
pub(crate) fn response_rate(kind: SuggestionType) -> (f64, String) {
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
