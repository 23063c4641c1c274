//! The customer models (BG/NBD or MBG/NBD with Gamma-Gamma) fitted over the live customer
//! book: on a schedule and on demand, on a blocking thread, never on a query. A failed or
//! starved attempt keeps the fit in service and says why.

mod answer;
mod collect;
mod fit;
mod holdout;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use portrait_core::{Calendar, Day};
use portrait_proto::v1::{CustomerModel, ModelFit, ModelFitStatus};
use portrait_service::{CustomerProjection, ModelSettings, QueryContext};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use fit::{Refusal, Terms};

/// What [`measure`] saw: the two halves of a fit timed apart.
#[derive(Debug)]
pub struct Measured {
    /// Reading every customer's rows (under the state's read lock in the service).
    pub collect: Duration,
    /// Fitting both models and scoring every customer (on a blocking thread).
    pub fit: Duration,
    pub customers: usize,
    pub repeat_customers: usize,
    /// Distinct (x, t_x, T): what the likelihood sums over.
    pub triples: usize,
    pub outcome: Result<(), String>,
    /// The one read of the rows with the check on (instead of `collect`; under the lock in
    /// the service), and the check's fit and table.
    pub holdout_gather: Duration,
    pub holdout_check: Duration,
    pub holdout: Result<(), String>,
}

/// Collects and fits `book` as of `as_of` as a refit does, timing each half: for the
/// benchmark example (`cargo run -p portrait-suggest --example models_fit`).
pub fn measure(
    book: &portrait_core::memory::CustomerBook,
    as_of: Day,
    settings: &ModelSettings,
) -> Measured {
    let terms = Terms::of(settings);
    let started = Instant::now();
    let collected = collect::collect(book, as_of, terms.period);
    let collect = started.elapsed();
    let started = Instant::now();
    let outcome = fit::fit(&collected, terms);
    let fit = started.elapsed();
    let started = Instant::now();
    let (both, gathered) = holdout::gather(book, as_of, settings.holdout_days, terms);
    let holdout_gather = started.elapsed();
    // The one pass the service makes with the check on reads what `collect` does.
    debug_assert_eq!(both.customers, collected.customers);
    let started = Instant::now();
    let kind = outcome.as_ref().map_or(terms.kind, |f| f.chosen_kind());
    let holdout = holdout::check(&gathered, terms, kind);
    let holdout_check = started.elapsed();
    let present = collected.customers.iter().flatten();
    let (customers, repeat_customers) = present.fold((0, 0), |(n, r), p| {
        (n + 1, r + usize::from(p.frequency > 0))
    });
    Measured {
        collect,
        fit,
        customers,
        repeat_customers,
        triples: outcome.as_ref().map_or(0, |f| f.triples.len()),
        outcome: outcome.map(|_| ()).map_err(|e| format!("{e:?}")),
        holdout_gather,
        holdout_check,
        holdout: holdout.map(|_| ()).map_err(|e| format!("{e:?}")),
    }
}

/// Collects and fits `book` as a refit does, straight into a fit to serve (for the
/// suggestions' benchmark); `None` when the data cannot be fitted.
pub(crate) fn collect_and_fit(
    book: &portrait_core::memory::CustomerBook,
    as_of: Day,
    settings: &ModelSettings,
) -> Option<Served> {
    let terms = Terms::of(settings);
    let collected = collect::collect(book, as_of, terms.period);
    let fit = fit::fit(&collected, terms).ok()?;
    Some(Served {
        fit,
        holdout: None,
        fitted_at: Utc::now(),
        as_of,
        fit_millis: 0,
        scored: std::sync::OnceLock::new(),
        incarnation: 0,
    })
}

/// A fit in service with when and as of which day it was made.
#[derive(Debug)]
pub struct Served {
    pub(crate) fit: fit::Fit,
    /// The check on held-out days; `None` when `models.holdout_days` is 0.
    pub(crate) holdout: Option<Result<holdout::Holdout, Refusal>>,
    pub fitted_at: DateTime<Utc>,
    pub as_of: Day,
    pub(crate) fit_millis: i64,
    /// The dense ids with a score, ascending: what an export pages through.
    pub(crate) scored: std::sync::OnceLock<Vec<u32>>,
    /// The state incarnation those dense ids belong to.
    pub(crate) incarnation: u64,
}

/// A customer's scores for lists, rankings and sums (ListCustomers, the portrait summary);
/// one customer's answer is `Models::customer`, all in f64.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub alive_probability: f64,
    pub expected_purchases: f64,
    pub expected_average_spend_fen: f32,
    pub predicted_clv_fen: f32,
}

impl Served {
    /// The fit's name in exports: when it was made, in ms.
    pub(crate) fn generation(&self) -> String {
        self.fitted_at.timestamp_millis().to_string()
    }

    pub(crate) fn scored(&self) -> &[u32] {
        self.scored.get_or_init(|| {
            (0..self.fit.triple_of.len() as u32)
                .filter(|c| self.score(*c).is_some())
                .collect()
        })
    }

    /// The scores of dense customer id `c`; `None` when it had no order up to the as-of day
    /// or is newer than the fit.
    pub fn score(&self, c: u32) -> Option<Score> {
        let f = &self.fit;
        let t = f.triples.get(*f.triple_of.get(c as usize)? as usize)?;
        Some(Score {
            alive_probability: t.alive,
            expected_purchases: t.expected,
            expected_average_spend_fen: f.expected_spend[c as usize],
            predicted_clv_fen: f.predicted_clv[c as usize],
        })
    }
}

/// The outcome of the latest attempt.
#[derive(Debug, Clone)]
struct Attempt {
    status: ModelFitStatus,
    reason: String,
    at: DateTime<Utc>,
}

#[derive(Debug, Default)]
struct Held {
    served: Option<Arc<Served>>,
    attempt: Option<Attempt>,
}

/// The models of one suggest service.
pub struct Models {
    pub(crate) projection: Arc<CustomerProjection>,
    ctx: QueryContext,
    settings: ModelSettings,
    held: RwLock<Held>,
    /// One heavy background job at a time: a fit, or warming the customer or
    /// suggestion lists. A second fit waits and then fits on the newer data.
    /// At start all three used to run together and their working sets
    /// stacked (suggest's peak was 706 MB at 1M customers).
    heavy: tokio::sync::Mutex<()>,
}

impl Models {
    pub fn new(
        projection: Arc<CustomerProjection>,
        ctx: QueryContext,
        settings: ModelSettings,
    ) -> Self {
        Self {
            projection,
            ctx,
            settings,
            held: RwLock::default(),
            heavy: tokio::sync::Mutex::new(()),
        }
    }

    /// Fits now and then every `models.refit_minutes` until `shutdown`.
    pub fn spawn_schedule(self: &Arc<Self>, shutdown: CancellationToken) {
        let models = self.clone();
        let every = Duration::from_secs(self.settings.refit_minutes.saturating_mul(60));
        tokio::spawn(async move {
            loop {
                if let Err(e) = models.refit(None).await {
                    warn!(error = %e, "scheduled model fit could not start");
                }
                if every.is_zero() {
                    return;
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
        });
    }

    /// Waits for the turn of a heavy background job (see `heavy`).
    pub(crate) async fn heavy_turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.heavy.lock().await
    }

    fn held(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fit in service, if any (for other answers built on the scores).
    pub fn served(&self) -> Option<Arc<Served>> {
        // Scores by dense id mean nothing once the state was replaced whole.
        let now = self.projection.live.incarnation();
        self.held().served.clone().filter(|s| s.incarnation == now)
    }

    pub fn fit_answer(&self) -> ModelFit {
        let held = self.held();
        answer::model_fit(
            held.served.as_deref(),
            held.attempt
                .as_ref()
                .map(|a| (a.status, a.reason.as_str(), a.at)),
        )
    }

    /// Refits as of `as_of_date` (empty or `None` = today) and answers the resulting ModelFit.
    pub async fn refit(&self, as_of_date: Option<&str>) -> portrait_service::Result<ModelFit> {
        let as_of = match as_of_date.filter(|d| !d.is_empty()) {
            Some(text) => Calendar::parse_day("as_of_date", text)?,
            None => self.ctx.resolve(None)?.as_of,
        };
        let _turn = self.heavy_turn().await;
        let terms = Terms::of(&self.settings);
        let projection = self.projection.clone();
        let started = Instant::now();
        let outcome = tokio::task::spawn_blocking(move || {
            let (collected, gathered, incarnation) = {
                let (state, _) = projection.live.read();
                let incarnation = projection.live.incarnation();
                let (collected, gathered) = match terms.holdout_days {
                    0 => (collect::collect(&state.book, as_of, terms.period), None),
                    days => {
                        let (c, g) = holdout::gather(&state.book, as_of, days, terms);
                        (c, Some(g))
                    }
                };
                (collected, gathered, incarnation)
            };
            let fit = fit::fit(&collected, terms)?;
            drop(collected);
            // The check fits the kind that won on all the data, so it checks the model in service.
            let kind = fit.chosen_kind();
            let checked = gathered.map(|g| holdout::check(&g, terms, kind));
            Ok((fit, checked, incarnation))
        })
        .await
        .unwrap_or_else(|e| Err(Refusal::Failed(format!("the fit stopped: {e}"))));
        let fit_millis = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let at = Utc::now();
        let day = Calendar::format_day(as_of);
        let attempt = match outcome {
            Ok((fit, holdout, incarnation)) => {
                info!(
                    as_of = %day,
                    customers = fit.customers,
                    repeat_customers = fit.repeat_customers,
                    triples = fit.triples.len(),
                    fit_millis,
                    "fitted the customer models"
                );
                let served = Served {
                    fit,
                    holdout,
                    fitted_at: at,
                    as_of,
                    fit_millis,
                    scored: std::sync::OnceLock::new(),
                    incarnation,
                };
                self.held
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .served = Some(Arc::new(served));
                Attempt {
                    status: ModelFitStatus::Fitted,
                    reason: String::new(),
                    at,
                }
            }
            Err(Refusal::NotEnoughData(reason)) => {
                info!(as_of = %day, %reason, "not enough data to fit the customer models");
                Attempt {
                    status: ModelFitStatus::NotEnoughData,
                    reason: format!("as of {day}: {reason}"),
                    at,
                }
            }
            Err(Refusal::Failed(reason)) => {
                // Data that the models cannot fit, not a fault of the service: info, like
                // "not enough data"; the answer carries the reason (status FAILED).
                info!(as_of = %day, %reason, "customer model fit failed; the previous fit stays");
                Attempt {
                    status: ModelFitStatus::Failed,
                    reason: format!("as of {day}: {reason}"),
                    at,
                }
            }
        };
        self.held
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .attempt = Some(attempt);
        Ok(self.fit_answer())
    }

    /// One customer under the fit in service; `None` for a customer never seen.
    pub fn customer(&self, customer_id: &str) -> Option<CustomerModel> {
        let c = {
            let (state, _) = self.projection.live.read();
            state.book.customers().get(customer_id)?
        };
        Some(answer::customer_model(
            customer_id,
            self.served().as_deref(),
            c,
        ))
    }
}
