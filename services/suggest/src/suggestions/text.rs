//! A plan's drafts in words: title, content (Chinese, with the figures they
//! rest on), priority and expected effect. Built per answer from the cached
//! plan, the habits the profiler gave (or why none) and the response rates.

use portrait_core::Segment;
use portrait_proto::v1::{
    ExpectedEffect, GroupPattern, GroupPatterns, Priority, SuggestionFigure, SuggestionType,
};
use portrait_service::SuggestSettings;

use super::plan::{Draft, Figure};
use super::rates::ORDERS_PER_RESPONDER;

/// The type's short name in ids.
pub(crate) fn slug(kind: SuggestionType) -> &'static str {
    match kind {
        SuggestionType::ChurnWarning => "churn",
        SuggestionType::VipService => "vip",
        SuggestionType::SegmentStrategy => "segment",
        SuggestionType::Recommendation => "recommend",
        SuggestionType::SecondPurchase => "nurture",
        SuggestionType::WinBack => "winback",
        SuggestionType::Unspecified => "none",
    }
}

/// The audience key inside a scope: the segment's enum name, a
/// recommendation's rule as `antecedent>consequent` (product ids), else "all".
pub(crate) fn audience_key(d: &Draft) -> String {
    if let Some(r) = &d.rule {
        return format!("{}>{}", r.antecedent_id, r.consequent_id);
    }
    d.segment
        .and_then(|s| portrait_proto::v1::Segment::try_from(s as i32).ok())
        .map_or_else(|| "all".to_owned(), |s| s.as_str_name().to_owned())
}

/// The expected effect of acting on `d` (docs/architecture.md §3).
pub(crate) fn effect(d: &Draft, (rate, source): (f64, String)) -> ExpectedEffect {
    let reached = d.audience.len() as i64;
    let responders = reached as f64 * rate;
    let orders = responders * ORDERS_PER_RESPONDER;
    let per_order = d.aov();
    ExpectedEffect {
        reached,
        response_rate: rate,
        response_rate_source: source,
        responders,
        extra_orders: orders,
        orders_per_responder: ORDERS_PER_RESPONDER,
        // `as` saturates; the product of an audience's orders and AOV fits.
        extra_revenue_fen: (orders * per_order).round() as i64,
        revenue_per_order_fen: per_order,
    }
}

pub(crate) fn priority(value: f64, s: &SuggestSettings) -> Priority {
    if value >= s.high_priority_fen as f64 {
        Priority::High
    } else if value >= s.medium_priority_fen as f64 {
        Priority::Medium
    } else {
        Priority::Low
    }
}

/// What a draft's words need besides the draft.
pub(crate) struct Context<'a> {
    pub(crate) settings: &'a SuggestSettings,
    /// The segments' habits, or why there are none.
    pub(crate) habits: &'a super::fetched::Habits,
    /// The VIP audience's favourite store: (name, city).
    pub(crate) store: Option<(&'a str, &'a str)>,
    /// The response rate the expected effect assumes.
    pub(crate) rate: f64,
}

/// The title, content and what was left out of it.
pub(crate) fn words(d: &Draft, x: &Context) -> (String, String, Vec<String>) {
    let f = |k: Figure| d.figure(k).unwrap_or(0.0);
    let n = d.audience.len();
    let mut omitted = Vec::new();
    let mut habits = |segments: &[Segment], what: &str| -> Option<Habit> {
        match &x.habits.held {
            Ok((p, _)) => {
                let h = Habit::of(p, segments);
                match (&h, &x.habits.items_missing) {
                    (None, _) => omitted.push(format!("{what}：画像服务没有该群体的数据")),
                    (Some(_), Some(why)) => omitted.push(format!("{what}中的品类与商品：{why}")),
                    (Some(_), None) => {}
                }
                h
            }
            Err(why) => {
                omitted.push(format!("{what}：{why}"));
                None
            }
        }
    };
    match d.kind {
        SuggestionType::VipService => {
            let h = habits(&[Segment::ImportantValue], "常用时段、渠道与偏好");
            let store = x.store.map_or(String::new(), |(name, city)| {
                format!(
                    "他们最常去{city}{name}（{:.0} 单）。",
                    f(Figure::StoreOrders)
                )
            });
            let threshold = d
                .figure(Figure::ClvThresholdFen)
                .map_or(String::new(), |t| {
                    format!(
                        "，预测价值前10% {:.0} 位（门槛 {}）",
                        f(Figure::FromTopClv),
                        yuan(t)
                    )
                });
            let content = format!(
                "{n} 位客户（重要价值客户 {:.0} 位{threshold}）在筛选期内消费 {}，占全部消费的 {}，客单价 {}。{store}{}建议：为他们开通专属客服与会员日礼遇，在常去门店安排新品优先试吃，并在常用时段预留座位或优先出餐。",
                f(Figure::FromSegment),
                yuan(f(Figure::SpendFen)),
                pct(f(Figure::SpendShare)),
                yuan(f(Figure::AovFen)),
                h.map_or(String::new(), |h| format!("重要价值客户{}。", h.sentence())),
            );
            (format!("VIP服务：{n} 位高价值客户"), content, omitted)
        }
        SuggestionType::SegmentStrategy => {
            let s = d.segment.unwrap_or(Segment::GeneralWinBack);
            let h = habits(&[s], "该群体的时段、渠道与品类习惯");
            let reach = h.as_ref().map_or(String::new(), |h| {
                format!("最佳触达：{}，{} 点前后。", h.channel, h.hour)
            });
            let content = format!(
                "{} {n} 人，占客户 {}，筛选期内消费 {}（占 {}），客单价 {}，平均 {:.1} 天未消费，人均 {:.1} 单。{}策略：{}。{reach}",
                s.label(),
                pct(f(Figure::CustomerShare)),
                yuan(f(Figure::SpendFen)),
                pct(f(Figure::SpendShare)),
                yuan(f(Figure::AovFen)),
                f(Figure::MeanRecencyDays),
                f(Figure::MeanOrders),
                h.map_or(String::new(), |h| format!("习惯：{}。", h.sentence())),
                strategy(s),
            );
            let title = format!(
                "{}：{n} 人，消费占比 {}",
                s.label(),
                pct(f(Figure::SpendShare))
            );
            (title, content, omitted)
        }
        SuggestionType::ChurnWarning => {
            let content = format!(
                "{n} 位客户已超过其平均下单间隔的两倍未下单（平均间隔 {:.1} 天，平均已 {:.1} 天未消费），模型估计的平均活跃概率仅 {}（低于 {}）。预计流失购买 {:.1} 次（模型预测期内），按各自客单价计流失风险金额 {}。建议：通过其常用渠道发放 {} 专属召回券（约为每人风险金额的十分之一），{} 天内有效。",
                f(Figure::MeanGapDays),
                f(Figure::MeanRecencyDays),
                pct(f(Figure::MeanAliveProbability)),
                pct(x.settings.churn_alive_below),
                f(Figure::LostPurchases),
                yuan(f(Figure::AtRiskValueFen)),
                yuan(f(Figure::OfferFen)),
                x.settings.valid_days,
            );
            let title = format!(
                "流失预警：{n} 位客户，流失风险金额 {}",
                yuan(f(Figure::AtRiskValueFen))
            );
            (title, content, omitted)
        }
        SuggestionType::SecondPurchase => {
            let timing = d.figure(Figure::SecondOrderGapDays).map_or_else(
                || "筛选期内还没有下过第二单的老客可作参照，建议在首单后两周内触达。".to_owned(),
                |g| {
                    format!(
                        "老客从首单到第二单的中位间隔为 {g:.1} 天（{:.0} 位客户）：建议在首单后第 {g:.0} 天前推送。",
                        f(Figure::GapSample)
                    )
                },
            );
            let model = d.figure(Figure::MeanExpectedPurchases).map_or_else(
                || "（暂无模型预测）".to_owned(),
                |e| format!("模型预计他们在预测期内平均还会购买 {e:.2} 次，"),
            );
            let content = format!(
                "{n} 位客户在筛选期内只下过一单，且距今不超过 {} 天（平均 {:.1} 天），首单平均 {}。{model}{timing}建议：发放第二单专享券 {}（约为首单金额的十分之一）。",
                x.settings.nurture_days,
                f(Figure::MeanRecencyDays),
                yuan(f(Figure::AovFen)),
                yuan(f(Figure::OfferFen)),
            );
            (format!("新客培育：{n} 位一单新客"), content, omitted)
        }
        SuggestionType::WinBack => {
            let h = habits(
                &[Segment::ImportantWinBack, Segment::ImportantKeep],
                "他们以前常买的品类",
            );
            let content = format!(
                "{n} 位高消费客户（重要保持、重要挽留客户）已至少 {} 天未下单（平均 {:.1} 天），筛选期内共消费 {}，人均 {:.1} 单，客单价 {}。{}建议：发送“好久不见”回归礼，{} 无门槛券（约为客单价的五分之一），并推荐其常买品类的新品。",
                x.settings.win_back_days,
                f(Figure::MeanRecencyDays),
                yuan(f(Figure::SpendFen)),
                f(Figure::MeanOrders),
                yuan(f(Figure::AovFen)),
                h.and_then(|h| h.categories)
                    .map_or(String::new(), |c| format!("他们以前常买：{c}。")),
                yuan(f(Figure::OfferFen)),
            );
            (format!("沉睡唤醒：{n} 位高价值沉睡客户"), content, omitted)
        }
        SuggestionType::Recommendation => {
            let (a, b) = d.rule.as_ref().map_or(("", ""), |r| {
                (r.antecedent_name.as_str(), r.consequent_name.as_str())
            });
            let content = format!(
                "买过「{a}」的 {n} 位客户（筛选期内有消费）还没有买过「{b}」。在所选门店，买过「{a}」的客户中有 {} 也买了「{b}」（{:.0} 位），提升度 {:.2}：他们比一般客户更可能接受它。建议：向这 {n} 位客户推荐「{b}」，配「{a}」的组合优惠；按响应率 {} 预计约 {:.1} 位接受。",
                pct(f(Figure::Confidence)),
                f(Figure::RuleCount),
                f(Figure::Lift),
                pct(x.rate),
                n as f64 * x.rate,
            );
            (
                format!("个性化推荐：向 {n} 位客户推荐「{b}」"),
                content,
                omitted,
            )
        }
        SuggestionType::Unspecified => (String::new(), String::new(), omitted),
    }
}

pub(crate) fn figures(d: &Draft) -> Vec<SuggestionFigure> {
    (d.figures.iter())
        .map(|(k, v)| SuggestionFigure {
            key: k.key().to_owned(),
            label: k.label().to_owned(),
            value: *v,
        })
        .collect()
}

/// A group's habits in words: its busiest hour, main channel, top categories
/// and products (`None` when the answer was asked without items).
struct Habit {
    hour: i32,
    channel: &'static str,
    categories: Option<String>,
    products: String,
}

impl Habit {
    /// The habits of the largest of `segments` the profiler has.
    fn of(p: &GroupPatterns, segments: &[Segment]) -> Option<Habit> {
        let key = |s: Segment| {
            portrait_proto::v1::Segment::try_from(s as i32).map_or("", |p| p.as_str_name())
        };
        let groups: Vec<&GroupPattern> = (p.groups.iter())
            .filter(|g| segments.iter().any(|s| g.key == key(*s)))
            .collect();
        let g = groups.iter().max_by_key(|g| g.customers)?;
        let hour =
            (g.hours.iter()).max_by(|a, b| a.orders.cmp(&b.orders).then(b.hour.cmp(&a.hour)))?;
        let channel = (g.channels.iter())
            .max_by(|a, b| a.orders.cmp(&b.orders).then(b.channel.cmp(&a.channel)))?;
        let mut names: Vec<&str> = Vec::new();
        for c in groups.iter().flat_map(|g| g.categories.iter()) {
            if !names.contains(&c.name.as_str()) && names.len() < 3 {
                names.push(&c.name);
            }
        }
        let products: Vec<&str> = g.products.iter().take(3).map(|p| p.name.as_str()).collect();
        Some(Habit {
            hour: hour.hour,
            channel: channel_label(channel.channel),
            categories: (!p.items_omitted).then(|| match names.is_empty() {
                true => "（无品类记录）".into(),
                false => names.join("、"),
            }),
            products: products.join("、"),
        })
    }

    fn sentence(&self) -> String {
        let products = match self.products.is_empty() {
            true => String::new(),
            false => format!("，常点{}", self.products),
        };
        let categories = (self.categories.as_ref()).map_or(String::new(), |c| format!("，偏爱{c}"));
        format!(
            "最常在 {} 点下单，主要渠道{}{categories}{products}",
            self.hour, self.channel
        )
    }
}

fn channel_label(c: i32) -> &'static str {
    match c {
        1 => "微信小程序",
        2 => "门店收银",
        3 => "美团",
        4 => "饿了么",
        5 => "抖音",
        _ => "未知渠道",
    }
}

/// The classic RFM strategy of each segment.
fn strategy(s: Segment) -> &'static str {
    match s {
        Segment::ImportantValue => "保持现有服务，提供会员专属权益与新品优先体验，避免频繁打折",
        Segment::ImportantDevelop => "消费高但频次低：推送多次消费返券与储值优惠，提升到店频次",
        Segment::ImportantKeep => "常来但近期未到：推送个性化召回与限时权益，防止流失",
        Segment::ImportantWinBack => "高消费但久未到店、频次低：一对一召回，发放大额回归券",
        Segment::GeneralValue => "常来但客单价低：推荐套餐与加购，提升客单价",
        Segment::GeneralDevelop => "新近但低频低额：新客礼包与第二单优惠，培养习惯",
        Segment::GeneralKeep => "曾经常来、金额低、近期未到：小额优惠券唤醒",
        Segment::GeneralWinBack => "低价值且久未到店：低成本批量触达，控制营销投入",
    }
}

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// Fen as yuan for a sentence, thousands grouped: `¥1,384.10`.
pub(crate) fn yuan(fen: f64) -> String {
    // `as` saturates: a sum of fen always fits, and an absurd one cannot wrap.
    let fen = fen.round() as i64;
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    let whole = (fen / 100).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}¥{grouped}.{:02}", fen % 100)
}

#[cfg(test)]
mod tests {
    #[test]
    fn yuan_groups_thousands_and_keeps_fen() {
        assert_eq!(super::yuan(138_410.0), "¥1,384.10");
        assert_eq!(super::yuan(123_456_789.4), "¥1,234,567.89");
        assert_eq!(super::yuan(100_000.0), "¥1,000.00");
        assert_eq!(super::yuan(5.0), "¥0.05");
        assert_eq!(super::yuan(-150.0), "-¥1.50");
    }
}
