//! The fit and the per-customer figures as their proto messages.

use chrono::{DateTime, SecondsFormat, Utc};
use portrait_core::Calendar;
use portrait_models::summary::Period;
use portrait_proto::v1::{
    CustomerModel, HoldoutRow, ModelCandidate, ModelFit, ModelFitStatus, ModelHoldout,
    ModelParameters, ModelPeriod, TransactionModel as ModelKindProto,
};
use portrait_service::ModelKind;
use tracing::warn;

use super::Served;
use super::fit::{self, Refusal, Transactions};
use super::holdout::{self, Holdout};

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
    let (model, transaction) = parameters(f.transactions);
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
        p: f.spend.p,
        q: f.spend.q,
        v: f.spend.v,
        ..transaction
    });
    answer.log_likelihood = f.log_likelihood;
    answer.horizon_periods = f.terms.horizon;
    answer.spend_customers = f.spend_customers as i64;
    answer.spend_log_likelihood = f.spend_log_likelihood;
    answer.clv_months = i32::try_from(f.terms.clv_months).unwrap_or(i32::MAX);
    answer.discount_rate = f.terms.discount_rate;
    answer.fit_millis = s.fit_millis;
    answer.candidates = (f.candidates.iter())
        .map(|&(kind, log_likelihood)| ModelCandidate {
            model: kind_proto(kind) as i32,
            log_likelihood,
        })
        .collect();
    answer.holdout = s.holdout.as_ref().map(holdout);
    answer
}

fn kind_proto(kind: ModelKind) -> ModelKindProto {
    match kind {
        ModelKind::BgNbd => ModelKindProto::BgNbd,
        ModelKind::MbgNbd => ModelKindProto::MbgNbd,
        ModelKind::Auto => ModelKindProto::Unspecified,
    }
}

fn parameters(t: Transactions) -> (ModelKindProto, ModelParameters) {
    let (model, [r, alpha, a, b]) = match t {
        Transactions::BgNbd(m) => (ModelKindProto::BgNbd, [m.r, m.alpha, m.a, m.b]),
        Transactions::MbgNbd(m) => (ModelKindProto::MbgNbd, [m.r, m.alpha, m.a, m.b]),
    };
    let p = ModelParameters {
        r,
        alpha,
        a,
        b,
        ..ModelParameters::default()
    };
    (model, p)
}

fn holdout(outcome: &Result<Holdout, Refusal>) -> ModelHoldout {
    let refused = |status: ModelFitStatus, reason: &str| ModelHoldout {
        status: status as i32,
        reason: reason.to_owned(),
        ..ModelHoldout::default()
    };
    let h = match outcome {
        Ok(h) => h,
        Err(Refusal::NotEnoughData(r)) => return refused(ModelFitStatus::NotEnoughData, r),
        Err(Refusal::Failed(r)) => return refused(ModelFitStatus::Failed, r),
    };
    let row = |r: &holdout::Row| {
        let n = r.customers.max(1) as f64;
        HoldoutRow {
            frequency: i64::from(r.frequency),
            and_more: r.and_more,
            customers: r.customers as i64,
            actual_purchases: r.actual as f64 / n,
            predicted_purchases: r.predicted / n,
        }
    };
    ModelHoldout {
        calibration_end: Calendar::format_day(h.calibration_end),
        duration_periods: h.duration,
        status: ModelFitStatus::Fitted as i32,
        reason: String::new(),
        parameters: Some(parameters(h.chosen.transactions).1),
        log_likelihood: h.chosen.log_likelihood,
        rows: h.rows.iter().map(row).collect(),
        total: Some(row(&h.total)),
    }
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
