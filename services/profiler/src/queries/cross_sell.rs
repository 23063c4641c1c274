//! The strongest customer rules with the customers who have not acted on them
//! (bought the antecedent, not the consequent): the suggest service's
//! personalised recommendations, which need the per-customer product sets only
//! the profiler keeps.

use portrait_core::Error as DomainError;
use portrait_proto::v1::{
    AssociationBasis, AssociationOrder, AssociationsRequest, CrossSell, CrossSellRequest,
    CrossSellRule, Filter,
};
use portrait_service::Result;

use super::Profiler;

const DEFAULT_RULES: i32 = 3;
const MAX_RULES: i32 = 20;
const DEFAULT_MIN_COUNT: i64 = 20;

impl Profiler {
    pub async fn cross_sell(&self, req: &CrossSellRequest) -> Result<CrossSell> {
        let rules = match req.rules {
            0 => DEFAULT_RULES,
            n if (1..=MAX_RULES).contains(&n) => n,
            _ => {
                let reason = format!("must be 0 (= {DEFAULT_RULES}) to {MAX_RULES}");
                return Err(DomainError::invalid("rules", reason).into());
            }
        };
        let min_count = match req.min_count {
            0 => DEFAULT_MIN_COUNT,
            n if n > 0 => n,
            _ => return Err(DomainError::invalid("min_count", "must not be negative").into()),
        };
        // Customer sets over all history: the stores and cities only.
        let given = req.filter.clone().unwrap_or_default();
        let filter = Filter {
            store_ids: given.store_ids,
            cities: given.cities,
            ..Filter::default()
        };
        let ranked = self
            .associations(&AssociationsRequest {
                filter: Some(filter.clone()),
                basis: AssociationBasis::Customer as i32,
                min_support: 0.0,
                min_count,
                limit: rules,
                order_by: AssociationOrder::Lift as i32,
            })
            .await?;
        // The audiences are read under the state's next lock: a batch applied
        // in between moves them by its customers only.
        self.with(Some(&filter), |s, _, sel, _| {
            let names = s.customers.book.customers();
            let rules = (ranked.associations.into_iter())
                .filter_map(|rule| {
                    let a = s.days.product_id(&rule.antecedent_id)?;
                    let b = s.days.product_id(&rule.consequent_id)?;
                    let mut ids: Vec<String> = (s.customer_pairs.holding_not(sel, a, b))
                        .into_iter()
                        .map(|c| names.name(c).to_owned())
                        .collect();
                    ids.sort_unstable();
                    Some(CrossSellRule {
                        rule: Some(rule),
                        customer_ids: ids,
                    })
                })
                .collect();
            CrossSell {
                population: ranked.population,
                rules,
            }
        })
    }
}
