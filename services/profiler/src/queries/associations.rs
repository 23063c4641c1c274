//! Product associations over baskets or customers, from the counts the
//! profiler keeps (per store; several stores over customers are counted
//! from the customers' sets).

use std::cmp::Ordering;

use portrait_core::{Calendar, Error as DomainError};
use portrait_models::cross::RuleFigures;
use portrait_proto::v1::{
    Association, AssociationBasis, AssociationOrder, Associations, AssociationsRequest, Filter,
};
use portrait_service::Result;

use super::{Profiler, ranking_limit};

/// One direction of a pair: the counts a rule's figures come from.
#[derive(Debug, Clone, Copy)]
struct Rule {
    antecedent: u32,
    consequent: u32,
    count: i64,
    n_a: i64,
    n_b: i64,
}

/// Exact comparisons in integers (no two rules compare by rounded ratios),
/// greater = better. The population is the same for every rule of an answer.
fn by_lift(x: &Rule, y: &Rule) -> Ordering {
    let (xn, yn) = (i128::from(x.count), i128::from(y.count));
    (xn * i128::from(y.n_a) * i128::from(y.n_b)).cmp(&(yn * i128::from(x.n_a) * i128::from(x.n_b)))
}

fn by_confidence(x: &Rule, y: &Rule) -> Ordering {
    (i128::from(x.count) * i128::from(y.n_a)).cmp(&(i128::from(y.count) * i128::from(x.n_a)))
}

fn by_count(x: &Rule, y: &Rule) -> Ordering {
    x.count.cmp(&y.count)
}

/// Whether a filter asks for a window (customers only: baskets are kept over
/// all history, and so are customers without one).
fn windowed(filter: Option<&Filter>, basis: AssociationBasis) -> Result<bool> {
    let Some(f) = filter else { return Ok(false) };
    let window = !f.from_date.is_empty() || !f.to_date.is_empty();
    if window && basis == AssociationBasis::Customer {
        return Ok(true);
    }
    for (field, value) in [
        ("filter.from_date", &f.from_date),
        ("filter.to_date", &f.to_date),
        ("filter.as_of_date", &f.as_of_date),
    ] {
        if !value.is_empty() {
            let reason = "basket associations, and customer ones without from_date or \
                          to_date, are counted over all history; leave it empty";
            return Err(DomainError::invalid(field, reason).into());
        }
    }
    Ok(false)
}

impl Profiler {
    /// Rules over baskets or customers at the filtered stores, ranked.
    pub async fn associations(&self, req: &AssociationsRequest) -> Result<Associations> {
        let basis = match AssociationBasis::try_from(req.basis) {
            Ok(AssociationBasis::Customer) => AssociationBasis::Customer,
            Ok(AssociationBasis::Unspecified | AssociationBasis::Basket) => {
                AssociationBasis::Basket
            }
            Err(_) => {
                let reason = format!("unknown basis {}", req.basis);
                return Err(DomainError::invalid("basis", reason).into());
            }
        };
        let limit = ranking_limit(req.limit)?;
        let order = AssociationOrder::try_from(req.order_by).map_err(|_| {
            DomainError::invalid("order_by", format!("unknown order {}", req.order_by))
        })?;
        if !(0.0..=1.0).contains(&req.min_support) {
            let reason = "must be a share between 0 and 1";
            return Err(DomainError::invalid("min_support", reason).into());
        }
        if req.min_count < 0 {
            return Err(DomainError::invalid("min_count", "must not be negative").into());
        }
        let window = windowed(req.filter.as_ref(), basis)?;
        let in_window = match window {
            true => Some(self.window_counts(req.filter.as_ref()).await?),
            false => None,
        };
        self.with(req.filter.as_ref(), |s, f, sel, version| {
            let products = s.days.product_count();
            let customers = basis == AssociationBasis::Customer;
            let key = (f.clone(), customers);
            let counts = in_window.unwrap_or_else(|| {
                self.association_counts.get_or(&key, version, || {
                    if customers {
                        s.customer_pairs.counts(sel, products)
                    } else {
                        s.baskets.counts(sel, products)
                    }
                })
            });
            let population = counts.baskets;
            let figures = |r: &Rule| {
                let u = |n: i64| u64::try_from(n).unwrap_or(0);
                RuleFigures::new(u(r.count), u(population), u(r.n_a), u(r.n_b))
            };
            let mut rules: Vec<Rule> = Vec::new();
            for &(a, b, count) in &counts.pairs {
                if count < req.min_count.max(1) {
                    continue;
                }
                let (n_a, n_b) = (counts.product(a), counts.product(b));
                for rule in [
                    Rule {
                        antecedent: a,
                        consequent: b,
                        count,
                        n_a,
                        n_b,
                    },
                    Rule {
                        antecedent: b,
                        consequent: a,
                        count,
                        n_a: n_b,
                        n_b: n_a,
                    },
                ] {
                    if figures(&rule).support >= req.min_support {
                        rules.push(rule);
                    }
                }
            }
            let measures: [fn(&Rule, &Rule) -> Ordering; 3] = match order {
                AssociationOrder::Confidence => [by_confidence, by_lift, by_count],
                AssociationOrder::Support => [by_count, by_lift, by_confidence],
                AssociationOrder::Unspecified | AssociationOrder::Lift => {
                    [by_lift, by_confidence, by_count]
                }
            };
            let id = |p: u32| s.days.product(p).0;
            rules.sort_by(|x, y| {
                (measures.iter())
                    .fold(Ordering::Equal, |o, m| o.then_with(|| m(y, x)))
                    .then_with(|| id(x.antecedent).cmp(id(y.antecedent)))
                    .then_with(|| id(x.consequent).cmp(id(y.consequent)))
            });
            let associations = (rules.iter().take(limit))
                .map(|r| {
                    let fig = figures(r);
                    let (a_id, a) = s.days.product(r.antecedent);
                    let (b_id, b) = s.days.product(r.consequent);
                    Association {
                        antecedent_id: a_id.to_owned(),
                        antecedent_name: a.name.clone(),
                        consequent_id: b_id.to_owned(),
                        consequent_name: b.name.clone(),
                        count: r.count,
                        antecedent_count: r.n_a,
                        consequent_count: r.n_b,
                        support: fig.support,
                        confidence: fig.confidence,
                        lift: fig.lift,
                    }
                })
                .collect();
            Associations {
                basis: basis as i32,
                population,
                filter: Some(match window {
                    true => f.applied(),
                    false => Filter {
                        store_ids: f.store_ids.clone(),
                        cities: f.cities.clone(),
                        as_of_date: Calendar::format_day(f.as_of),
                        ..Default::default()
                    },
                }),
                associations,
            }
        })
    }
}
