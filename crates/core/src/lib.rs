//! Pure domain logic of Portrait: what an order does to a portrait.
//!
//! No I/O and no async: the services feed events in and write the resulting deltas out.

mod calendar;
mod churn;
mod error;
mod filter;
mod fold;
pub mod memory;
mod par;
mod revision;
mod rfm;
mod validate;
mod visits;

pub use calendar::{Calendar, Day};
pub use churn::{ChurnWarning, MIN_ORDERS, churn_warning};
pub use error::{Error, Result};
pub use filter::{
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ResolvedFilter, next_page_token, page_size, page_start,
};
pub use fold::{
    Acc, BasketPairs, CustomerDays, Fold, ProductAcc, ProductInfo, RefundAcc, RefundDays,
    StoreDays, StoreInfo,
};
pub use revision::{Decision, Stored, decide, is_live, is_refunded};
pub use rfm::{
    CustomerAgg, Fixed, MAX_FIXED_FREQUENCY, MAX_FIXED_MONETARY_FEN, MAX_WINDOW_DAYS, PageToken,
    Rfm, RfmDefaults, RfmKey, RfmOrder, RfmParams, RfmTable, ScoreSelection, Segment, Threshold,
    ThresholdKind, ThresholdRule, Thresholds, fingerprint, rfm_order, rfm_table, start_after,
};
pub use validate::{Limits, ValidOrder, check, validate_order};
pub use visits::{CustomerVisits, ItemAcc, ItemKey, VisitKey, mask_customer_id};

/// Topic of accepted order changes, keyed by customer id.
pub const ORDERS_TOPIC: &str = "orders.v1";
/// Topic of records a consumer could not decode or validate.
pub const DLQ_TOPIC: &str = "orders.dlq.v1";
/// Topic of chain-wide segment transitions, keyed by customer id.
pub const SEGMENTS_TOPIC: &str = "segments.v1";
