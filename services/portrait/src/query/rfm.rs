//! `portrait query segments` and `rfm`: the RFM settings and selection as
//! flags, each left to the service's configuration when not given; the order
//! is the `--order-by` that `customers` shares.

use super::ListOrder;
use clap::{Args, ValueEnum};
use portrait_proto::v1::{
    Filter, ListRfmRequest, RfmOrder, RfmSettings, RfmThresholdKind, Segment,
    SegmentDistributionRequest,
};

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Thresholds {
    Mean,
    Median,
    Fixed,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum SegmentArg {
    ImportantValue,
    ImportantDevelop,
    ImportantKeep,
    ImportantWinBack,
    GeneralValue,
    GeneralDevelop,
    GeneralKeep,
    GeneralWinBack,
}

#[derive(Args)]
pub(crate) struct RfmArgs {
    /// rfm: largest first; ties stay by customer id.
    #[arg(long)]
    descending: bool,
    /// rfm: only this segment.
    #[arg(long, value_enum)]
    segment: Option<SegmentArg>,
    /// rfm: only these R scores, 1-5 (repeatable or comma-separated).
    #[arg(long = "r-score", value_delimiter = ',')]
    r_scores: Vec<i32>,
    /// rfm: only these F scores, 1-5.
    #[arg(long = "f-score", value_delimiter = ',')]
    f_scores: Vec<i32>,
    /// rfm: only these M scores, 1-5.
    #[arg(long = "m-score", value_delimiter = ',')]
    m_scores: Vec<i32>,
    /// rfm: the page after this token (printed as nextPageToken).
    #[arg(long, default_value = "")]
    page_token: String,
    /// segments, rfm: what R, F and M are compared with (default: rfm.thresholds).
    #[arg(long, value_enum)]
    thresholds: Option<Thresholds>,
    /// segments, rfm: only the last N days up to the as-of day; 0 = all history
    /// (default: rfm.window_days).
    #[arg(long)]
    window_days: Option<i32>,
    /// segments, rfm: with --thresholds fixed, R is high below this many days.
    #[arg(long)]
    fixed_recency_days: Option<i64>,
    /// segments, rfm: with --thresholds fixed, F is high above this many orders.
    #[arg(long)]
    fixed_frequency: Option<i64>,
    /// segments, rfm: with --thresholds fixed, M is high above this spend in fen.
    #[arg(long)]
    fixed_monetary_fen: Option<i64>,
}

impl RfmArgs {
    fn settings(&self) -> Option<RfmSettings> {
        let thresholds = match self.thresholds {
            None => RfmThresholdKind::Unspecified,
            Some(Thresholds::Mean) => RfmThresholdKind::Mean,
            Some(Thresholds::Median) => RfmThresholdKind::Median,
            Some(Thresholds::Fixed) => RfmThresholdKind::Fixed,
        };
        Some(RfmSettings {
            window_days: self.window_days,
            thresholds: thresholds as i32,
            fixed_recency_days: self.fixed_recency_days,
            fixed_frequency: self.fixed_frequency,
            fixed_monetary_fen: self.fixed_monetary_fen,
        })
    }

    pub(crate) fn segments(&self, filter: Option<Filter>) -> SegmentDistributionRequest {
        SegmentDistributionRequest {
            filter,
            rfm: self.settings(),
        }
    }

    /// The list request; `order` is the shared `--order-by` (spend = monetary).
    pub(crate) fn list(
        &self,
        filter: Option<Filter>,
        page_size: i32,
        order: Option<ListOrder>,
    ) -> anyhow::Result<ListRfmRequest> {
        let order_by = match order {
            None => RfmOrder::Unspecified,
            Some(ListOrder::Id) => RfmOrder::CustomerId,
            Some(ListOrder::Recency) => RfmOrder::Recency,
            Some(ListOrder::Frequency) => RfmOrder::Frequency,
            Some(ListOrder::Spend) => RfmOrder::Monetary,
            Some(ListOrder::Score) => RfmOrder::Score,
            Some(ListOrder::Clv | ListOrder::Alive) => {
                anyhow::bail!("--order-by clv and alive order customers, not rfm")
            }
        };
        let segment = self.segment.map_or(Segment::Unspecified, |s| match s {
            SegmentArg::ImportantValue => Segment::ImportantValue,
            SegmentArg::ImportantDevelop => Segment::ImportantDevelop,
            SegmentArg::ImportantKeep => Segment::ImportantKeep,
            SegmentArg::ImportantWinBack => Segment::ImportantWinBack,
            SegmentArg::GeneralValue => Segment::GeneralValue,
            SegmentArg::GeneralDevelop => Segment::GeneralDevelop,
            SegmentArg::GeneralKeep => Segment::GeneralKeep,
            SegmentArg::GeneralWinBack => Segment::GeneralWinBack,
        });
        Ok(ListRfmRequest {
            filter,
            page_size,
            page_token: self.page_token.clone(),
            segment: segment as i32,
            order_by: order_by as i32,
            descending: self.descending,
            r_scores: self.r_scores.clone(),
            f_scores: self.f_scores.clone(),
            m_scores: self.m_scores.clone(),
            rfm: self.settings(),
        })
    }
}
