//! What the effect tracking reads of a suggestion (`Suggestions::audience`,
//! in suggestions/adopt.rs).

use portrait_proto::v1::SuggestionType;

/// What a suggestion would reach and is expected to do.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Expected {
    pub reached: i64,
    pub responders: f64,
    pub extra_orders: f64,
    pub extra_revenue_fen: i64,
    pub response_rate: f64,
}

/// A suggestion's audience: dense ids of the live customer state.
#[derive(Debug, Clone)]
pub struct Audience {
    pub id: String,
    pub kind: SuggestionType,
    pub title: String,
    pub customers: Vec<u32>,
    pub expected: Expected,
}
