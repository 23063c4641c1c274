//! What the effect tracking reads of a suggestion (`Suggestions::audience`,
//! in suggestions/adopt.rs), and the stand-in audiences the effect tests were
//! written against, kept until they adopt real suggestion ids: the churn
//! warnings of one priority, chain-wide or at one city or store, as of today
//! over all history.
//!
//! Stand-in ids: `churn_warning:<high|medium|low>`, optionally `@city:<name>`
//! or `@store:<store id>`.

use portrait_core::{CustomerAgg, churn_warning};
use portrait_proto::v1::{Filter, Priority, SuggestionType};
use portrait_service::Result;

use crate::suggestions::Suggestions;

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

/// The stand-in's assumed extra response rate of a recall offer.
const PRIOR_RESPONSE_RATE: f64 = 0.05;

impl Suggestions {
    /// The stand-in audience of `id`; None for an id it does not have.
    pub(crate) fn legacy_audience(&self, id: &str) -> Result<Option<Audience>> {
        let Some((head, scope)) = parse(id) else {
            return Ok(None);
        };
        let (priority, label) = match head {
            "high" => (Priority::High, "高"),
            "medium" => (Priority::Medium, "中"),
            "low" => (Priority::Low, "低"),
            _ => return Ok(None),
        };
        let mut filter = Filter::default();
        match scope {
            Some(("city", city)) => filter.cities.push(city.to_owned()),
            Some(("store", store)) => filter.store_ids.push(store.to_owned()),
            Some(_) => return Ok(None),
            None => {}
        }
        let f = self.ctx().resolve(Some(&filter))?;
        let (state, _) = self.customers.projection.live.read();
        let sel = state.stores.select(&f);
        let chosen: Vec<CustomerAgg> = (state.book.aggs(&sel, f.from, f.to).into_iter())
            .filter(|a| churn_warning(a, f.as_of).is_some_and(|w| w.priority == priority))
            .collect();
        if chosen.is_empty() {
            return Ok(None);
        }
        let (orders, revenue) = chosen
            .iter()
            .fold((0i64, 0i64), |(o, r), a| (o + a.orders, r + a.revenue));
        let reached = chosen.len() as i64;
        let responders = reached as f64 * PRIOR_RESPONSE_RATE;
        let aov = revenue as f64 / orders.max(1) as f64;
        Ok(Some(Audience {
            id: id.to_owned(),
            kind: SuggestionType::ChurnWarning,
            title: format!("流失预警（{label}优先级）召回"),
            customers: chosen.iter().map(|a| a.customer).collect(),
            expected: Expected {
                reached,
                responders,
                extra_orders: responders,
                extra_revenue_fen: (responders * aov).round() as i64,
                response_rate: PRIOR_RESPONSE_RATE,
            },
        }))
    }
}

fn parse(id: &str) -> Option<(&str, Option<(&str, &str)>)> {
    let rest = id.strip_prefix("churn_warning:")?;
    Some(match rest.split_once('@') {
        Some((head, scope)) => (head, Some(scope.split_once(':')?)),
        None => (rest, None),
    })
}
