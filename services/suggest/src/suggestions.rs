//! The suggestions: today the churn warning of `portrait_core::churn_warning`.

use std::sync::Arc;

use portrait_core::{
    ChurnWarning, CustomerAgg, ResolvedFilter, churn_warning, page_size, page_start,
};
use portrait_proto::v1::{
    ListSuggestionsRequest, ListSuggestionsResponse, Priority, Suggestion, SuggestionGroup,
    SuggestionType,
};
use portrait_service::{AnswerCache, CustomerProjection, QueryContext, Result};

/// The suggestion lists of one service.
pub struct Suggestions {
    pub(crate) projection: Arc<CustomerProjection>,
    pub(crate) ctx: QueryContext,
    pub(crate) warnings: AnswerCache<ResolvedFilter, Warnings>,
}

/// The churn warnings of a filter, most urgent first.
pub(crate) type Warnings = Vec<(CustomerAgg, ChurnWarning)>;

impl Suggestions {
    fn warnings(&self, f: &ResolvedFilter) -> Arc<Warnings> {
        let (state, version) = self.projection.live.read();
        self.warnings.get_or(f, version, || {
            let sel = state.stores.select(f);
            let names = state.book.customers();
            let mut all: Warnings = (state.book.aggs(&sel, f.from, f.to).into_iter())
                .filter_map(|a| Some((a, churn_warning(&a, f.as_of)?)))
                .collect();
            all.sort_by(|(a, x), (b, y)| {
                y.priority
                    .cmp(&x.priority)
                    .then(y.days_since_last_order.cmp(&x.days_since_last_order))
                    .then_with(|| names.name(a.customer).cmp(names.name(b.customer)))
            });
            all
        })
    }

    pub fn list(&self, req: &ListSuggestionsRequest) -> Result<ListSuggestionsResponse> {
        let size = page_size("page_size", req.page_size)?;
        let start = page_start(&req.page_token)?;
        let kind = SuggestionType::try_from(req.r#type).map_err(|_| invalid("type"))?;
        let min_priority =
            Priority::try_from(req.min_priority).map_err(|_| invalid("min_priority"))?;
        let f = self.ctx.resolve(req.filter.as_ref())?;
        let churn = matches!(
            kind,
            SuggestionType::Unspecified | SuggestionType::ChurnWarning
        );
        let warnings = if churn {
            self.warnings(&f)
        } else {
            Arc::default()
        };
        // Most urgent first, so the wanted priorities are a prefix.
        let total = warnings.partition_point(|(_, w)| w.priority >= min_priority);
        let (state, _) = self.projection.live.read();
        let names = state.book.customers();
        let selected = &warnings[..total];
        let page: Vec<Suggestion> = selected
            .iter()
            .skip(start)
            .take(size)
            .map(|(a, w)| Suggestion {
                customer_id: names.name(a.customer).to_owned(),
                r#type: SuggestionType::ChurnWarning as i32,
                priority: w.priority as i32,
                reason: format!(
                    "已 {} 天未下单，超过其平均下单间隔 {:.1} 天的两倍（累计 {} 单）",
                    w.days_since_last_order, w.mean_gap_days, a.orders
                ),
                action: "通过其常用渠道发送专属召回优惠".into(),
                expected_effect: format!(
                    "每召回一单约挽回 {}",
                    yuan(a.revenue as f64 / a.orders as f64)
                ),
                days_since_last_order: w.days_since_last_order,
                mean_gap_days: w.mean_gap_days,
                orders: a.orders,
                monetary_fen: a.revenue,
            })
            .collect();
        let end = start + page.len();
        Ok(ListSuggestionsResponse {
            suggestions: page,
            next_page_token: portrait_core::next_page_token(end, total),
            total: total as i64,
            groups: groups(selected),
        })
    }
}

/// The churn warnings by priority (they come most urgent first), each group a
/// campaign with its audience.
fn groups(warnings: &[(CustomerAgg, ChurnWarning)]) -> Vec<SuggestionGroup> {
    let mut groups: Vec<(Priority, i64, i64, i64)> = Vec::new();
    for (a, w) in warnings {
        match groups.last_mut() {
            Some(g) if g.0 == w.priority => {
                g.1 += 1;
                g.2 += a.revenue;
                g.3 += a.orders;
            }
            _ => groups.push((w.priority, 1, a.revenue, a.orders)),
        }
    }
    groups
        .into_iter()
        .map(|(priority, customers, monetary, orders)| {
            let action = match priority {
                Priority::High => "超过平均下单间隔 4 倍未下单：优先一对一回访，发放专属召回券",
                Priority::Medium => "超过平均下单间隔 3 倍未下单：通过常用渠道推送召回优惠",
                _ => "超过平均下单间隔 2 倍未下单：推送新品与会员权益提醒",
            };
            SuggestionGroup {
                r#type: SuggestionType::ChurnWarning as i32,
                priority: priority as i32,
                action: action.into(),
                expected_effect: format!(
                    "召回筛选期内共消费 {} 的客户，平均每单 {}",
                    yuan(monetary as f64),
                    yuan(monetary as f64 / orders.max(1) as f64)
                ),
                customers,
                monetary_fen: monetary,
            }
        })
        .collect()
}

/// Fen as yuan for a sentence, thousands grouped: `¥1,384.10`.
fn yuan(fen: f64) -> String {
    // `as` saturates: a mean of fen always fits, and an absurd one cannot wrap.
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

fn invalid(field: &str) -> portrait_service::Error {
    portrait_core::Error::Invalid {
        field: field.into(),
        reason: "unknown value".into(),
    }
    .into()
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
