//! The fit and the per-customer figures as their proto messages.

use chrono::{DateTime, SecondsFormat, Utc};
use portrait_core::Calendar;
use portrait_models::summary::Period;
use portrait_proto::v1::{
    CustomerModel, ModelFit, ModelFitStatus, ModelParameters, ModelPeriod,
    TransactionModel as ModelKindProto,
};
use tracing::warn;

use super::Served;
use super::fit::{self, Transactions};

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn model_fit(
    served: Option<&Served>,
    attempt: Option<(ModelFitStatus, &str, DateTime<Utc>)>,
) -> ModelFit {
    let (status, reason, attempted_at) = match attempt {
        Some((s, r, at)) => (s, r.to_owned(), rfc3339(at)),
        None => (
            ModelFitStatus::Unspecified,
            "no fit has been attempted yet".to_owned(),
            String::new(),
        ),
    };
    let mut answer = ModelFit {
        status: status as i32,
        reason,
        attempted_at,
        ..ModelFit::default()
    };
    let Some(s) = served else {
        return answer;
    };
    let f = &s.fit;
    let (model, [r, alpha, a, b]) = match f.transactions {
        Transactions::BgNbd(m) => (ModelKindProto::BgNbd, [m.r, m.alpha, m.a, m.b]),
        Transactions::MbgNbd(m) => (ModelKindProto::MbgNbd, [m.r, m.alpha, m.a, m.b]),
    };
    answer.fitted_at = rfc3339(s.fitted_at);
    answer.generation = s.generation();
    answer.as_of_date = Calendar::format_day(s.as_of);
    answer.model = model as i32;
    answer.period = match f.terms.period {
        Period::Day => ModelPeriod::Day,
        Period::Week => ModelPeriod::Week,
        Period::Month => ModelPeriod::Month,
    } as i32;
    answer.customers = f.customers as i64;
    answer.repeat_customers = f.repeat_customers as i64;
    answer.parameters = Some(ModelParameters {
        r,
        alpha,
        a,
        b,
        p: f.spend.p,
        q: f.spend.q,
        v: f.spend.v,
    });
    answer.log_likelihood = f.log_likelihood;
    answer.horizon_periods = f.terms.horizon;
    answer.spend_customers = f.spend_customers as i64;
    answer.spend_log_likelihood = f.spend_log_likelihood;
    answer.clv_months = i32::try_from(f.terms.clv_months).unwrap_or(i32::MAX);
    answer.discount_rate = f.terms.discount_rate;
    answer.fit_millis = s.fit_millis;
    answer
}

pub(super) fn customer_model(id: &str, served: Option<&Served>, c: u32) -> CustomerModel {
    let unfitted = CustomerModel {
        customer_id: id.to_owned(),
        ..CustomerModel::default()
    };
    let Some(s) = served else {
        return unfitted;
    };
    match fit::customer(&s.fit, c) {
        None => unfitted,
        Some(Err(reason)) => {
            // Scoring succeeded for this customer's triple at fit time, so this cannot happen
            // short of a bug; answer "not fitted" rather than fail the profile.
            warn!(customer = id, %reason, "customer model figures failed");
            unfitted
        }
        Some(Ok(x)) => CustomerModel {
            customer_id: id.to_owned(),
            fitted: true,
            alive_probability: x.alive,
            expected_purchases: x.expected,
            expected_average_spend_fen: x.spend,
            predicted_clv_fen: x.clv,
            historical_clv_fen: s.fit.total_fen[c as usize],
            frequency: i64::from(x.summary.frequency),
            recency: x.summary.recency,
            age: x.summary.age,
            monetary_fen: x.summary.monetary,
            expected_purchases_30d: x.expected_days[0],
            expected_purchases_90d: x.expected_days[1],
        },
    }
}
