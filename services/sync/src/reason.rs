//! Why a source row was rejected, corrected or retracted. The codes are part of
//! the API (data-quality report, `portrait quality`): never rename one.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Reason {
    // The order does not count (not a data error, but never dropped silently).
    NotPaid,
    Deleted,
    FullyRefunded,
    // The order is rejected.
    BadTime,
    FutureTime,
    BadAmount,
    NegativeAmount,
    AbsurdAmount,
    BadQuantity,
    BadProduct,
    NoLines,
    NoStore,
    LinesMismatch,
    BadRow,
    // The order is accepted with a correction.
    UnknownStore,
    DuplicateLine,
    RefundSpread,
    RefundExceeds,
    UnknownPlatform,
    BadPhone,
    // A full run found an accepted order gone from the source.
    MissingInSource,
}

impl Reason {
    pub const ALL: [Reason; 21] = [
        Reason::NotPaid,
        Reason::Deleted,
        Reason::FullyRefunded,
        Reason::BadTime,
        Reason::FutureTime,
        Reason::BadAmount,
        Reason::NegativeAmount,
        Reason::AbsurdAmount,
        Reason::BadQuantity,
        Reason::BadProduct,
        Reason::NoLines,
        Reason::NoStore,
        Reason::LinesMismatch,
        Reason::BadRow,
        Reason::UnknownStore,
        Reason::DuplicateLine,
        Reason::RefundSpread,
        Reason::RefundExceeds,
        Reason::UnknownPlatform,
        Reason::BadPhone,
        Reason::MissingInSource,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::NotPaid => "not_paid",
            Reason::Deleted => "deleted",
            Reason::FullyRefunded => "fully_refunded",
            Reason::BadTime => "bad_time",
            Reason::FutureTime => "future_time",
            Reason::BadAmount => "bad_amount",
            Reason::NegativeAmount => "negative_amount",
            Reason::AbsurdAmount => "absurd_amount",
            Reason::BadQuantity => "bad_quantity",
            Reason::BadProduct => "bad_product",
            Reason::NoLines => "no_lines",
            Reason::NoStore => "no_store",
            Reason::LinesMismatch => "lines_mismatch",
            Reason::BadRow => "bad_row",
            Reason::UnknownStore => "unknown_store",
            Reason::DuplicateLine => "duplicate_line",
            Reason::RefundSpread => "refund_spread",
            Reason::RefundExceeds => "refund_exceeds",
            Reason::UnknownPlatform => "unknown_platform",
            Reason::BadPhone => "bad_phone",
            Reason::MissingInSource => "missing_in_source",
        }
    }

    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// What a finding did to its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Kind {
    /// The row does not count; counted in the job's `rejected`.
    Rejected,
    /// The row counts after a documented correction.
    Corrected,
    /// An order accepted earlier was withdrawn; counted in `retracted`.
    Retracted,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Rejected => "rejected",
            Kind::Corrected => "corrected",
            Kind::Retracted => "retracted",
        }
    }

    pub fn from_code(code: &str) -> Option<Kind> {
        [Kind::Rejected, Kind::Corrected, Kind::Retracted]
            .into_iter()
            .find(|k| k.code() == code)
    }
}

/// One recorded observation about a source row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub reason: Reason,
    pub order_id: i64,
    /// The `OrderGoods.id` when the finding is about one line.
    pub line_id: Option<i64>,
    pub detail: String,
}

impl Finding {
    pub fn new(reason: Reason, order_id: i64, detail: impl Into<String>) -> Self {
        Self {
            reason,
            order_id,
            line_id: None,
            detail: detail.into(),
        }
    }

    pub fn line(mut self, line_id: i64) -> Self {
        self.line_id = Some(line_id);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.code()), "{} twice", r.code());
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        assert_eq!(Reason::from_code("nope"), None);
    }
}
