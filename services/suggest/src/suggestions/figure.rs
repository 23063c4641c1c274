//! The figures a suggestion rests on, by the keys the API shows.

/// The figures a suggestion's content and effect rest on (keys in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Figure {
    Customers,
    CustomerShare,
    SpendFen,
    SpendShare,
    AovFen,
    MeanRecencyDays,
    MeanOrders,
    AtRiskValueFen,
    LostPurchases,
    MeanAliveProbability,
    MeanGapDays,
    OfferFen,
    FromSegment,
    FromTopClv,
    ClvThresholdFen,
    MeanPredictedClvFen,
    StoreOrders,
    SecondOrderGapDays,
    GapSample,
    Lift,
    Confidence,
    RuleCount,
    MeanExpectedPurchases,
}

impl Figure {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Figure::Customers => "customers",
            Figure::CustomerShare => "customer_share",
            Figure::SpendFen => "spend_fen",
            Figure::SpendShare => "spend_share",
            Figure::AovFen => "aov_fen",
            Figure::MeanRecencyDays => "mean_recency_days",
            Figure::MeanOrders => "mean_orders",
            Figure::AtRiskValueFen => "at_risk_value_fen",
            Figure::LostPurchases => "lost_purchases",
            Figure::MeanAliveProbability => "mean_alive_probability",
            Figure::MeanGapDays => "mean_gap_days",
            Figure::OfferFen => "offer_fen",
            Figure::FromSegment => "from_segment",
            Figure::FromTopClv => "from_top_clv",
            Figure::ClvThresholdFen => "clv_threshold_fen",
            Figure::MeanPredictedClvFen => "mean_predicted_clv_fen",
            Figure::StoreOrders => "store_orders",
            Figure::SecondOrderGapDays => "second_order_gap_days",
            Figure::GapSample => "gap_sample",
            Figure::Lift => "lift",
            Figure::Confidence => "confidence",
            Figure::RuleCount => "rule_count",
            Figure::MeanExpectedPurchases => "mean_expected_purchases",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Figure::Customers => "客户数",
            Figure::CustomerShare => "客户占比",
            Figure::SpendFen => "消费额",
            Figure::SpendShare => "消费占比",
            Figure::AovFen => "客单价",
            Figure::MeanRecencyDays => "平均未消费天数",
            Figure::MeanOrders => "人均订单",
            Figure::AtRiskValueFen => "流失风险金额",
            Figure::LostPurchases => "预计流失购买次数",
            Figure::MeanAliveProbability => "平均活跃概率",
            Figure::MeanGapDays => "平均下单间隔天数",
            Figure::OfferFen => "建议券额",
            Figure::FromSegment => "重要价值客户",
            Figure::FromTopClv => "预测价值前10%",
            Figure::ClvThresholdFen => "前10%预测价值门槛",
            Figure::MeanPredictedClvFen => "平均预测价值",
            Figure::StoreOrders => "常去门店订单",
            Figure::SecondOrderGapDays => "首单到二单中位天数",
            Figure::GapSample => "二单样本客户",
            Figure::Lift => "提升度",
            Figure::Confidence => "置信度",
            Figure::RuleCount => "同时购买客户",
            Figure::MeanExpectedPurchases => "模型预计平均购买次数",
        }
    }
}
