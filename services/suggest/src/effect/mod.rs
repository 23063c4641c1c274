//! Effect tracking (issue 10): adopting a suggestion freezes its audience in
//! the service's own store and holds out a control group by a fixed hash;
//! the effect is then read live from the customer book, treated against
//! control, over the adoption's window of local days.

mod answer;
mod audience;
mod hash;
mod read;
mod stats;
mod store;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, PoisonError, RwLock};

use portrait_core::{Calendar, Day};
use portrait_proto::v1::{
    AdoptSuggestionRequest, AdoptedSuggestion, SuggestionEffect, SuggestionStatus,
};
use portrait_service::{AnswerCache, CustomerProjection, Error, QueryContext, Result};
use tracing::info;

use crate::suggestions::Suggestions;
pub use audience::{Audience, Expected};
pub use hash::{bucket, is_control};
pub(crate) use store::{EFFECT_MIGRATIONS, KEPT_TABLES};

/// One adopted (or dismissed) suggestion, as recorded.
#[derive(Debug)]
pub(crate) struct Adoption {
    pub(crate) id: String,
    /// The SuggestionType value's name.
    pub(crate) kind: String,
    pub(crate) title: String,
    /// 0 = dismissed without adoption.
    pub(crate) adopted_at_ms: i64,
    pub(crate) adopted_day: Day,
    pub(crate) window_days: i32,
    pub(crate) control_percent: i32,
    pub(crate) expected: Expected,
    /// 0 = not dismissed.
    pub(crate) dismissed_at_ms: i64,
    pub(crate) treated: i64,
    pub(crate) control: i64,
    resolved: Mutex<Option<Arc<Resolved>>>,
}

/// The members as dense ids of one incarnation of the customer state.
#[derive(Debug)]
struct Resolved {
    incarnation: u64,
    /// Customers the state knew then: a newcomer may be a member.
    known: usize,
    /// (dense id, in control), in customer id order.
    members: Vec<(u32, bool)>,
    /// Members the state did not know, treated and control.
    unresolved: [i64; 2],
}

impl Adoption {
    /// The window's days: `[adopted day, adopted day + window)`.
    pub(crate) fn window(&self) -> (Day, Day) {
        (self.adopted_day, self.adopted_day + self.window_days)
    }

    pub(crate) fn status(&self, today: Day) -> SuggestionStatus {
        if self.dismissed_at_ms > 0 {
            SuggestionStatus::Dismissed
        } else if today >= self.window().1 {
            SuggestionStatus::Finished
        } else {
            SuggestionStatus::Adopted
        }
    }

    fn answer(&self, today: Day) -> AdoptedSuggestion {
        let adopted = self.adopted_at_ms > 0;
        AdoptedSuggestion {
            id: self.id.clone(),
            r#type: self.kind.clone(),
            title: self.title.clone(),
            status: self.status(today) as i32,
            adopted_at_ms: self.adopted_at_ms,
            adopted_date: if adopted {
                Calendar::format_day(self.adopted_day)
            } else {
                String::new()
            },
            window_days: self.window_days,
            control_percent: self.control_percent,
            dismissed_at_ms: self.dismissed_at_ms,
            treated_customers: self.treated,
            control_customers: self.control,
            expected: Some(answer::expected(&self.expected, 1.0)),
        }
    }
}

/// The adoptions of one service and their effects.
pub struct Tracker {
    projection: Arc<CustomerProjection>,
    ctx: QueryContext,
    suggestions: Arc<Suggestions>,
    adoptions: tokio::sync::OnceCell<RwLock<Vec<Arc<Adoption>>>>,
    /// One adoption or dismissal at a time.
    writing: tokio::sync::Mutex<()>,
    effects: AnswerCache<(String, Day, i64), SuggestionEffect>,
}

fn invalid(field: &str, reason: impl Into<String>) -> Error {
    portrait_core::Error::invalid(field, reason).into()
}

impl Tracker {
    pub fn new(
        projection: Arc<CustomerProjection>,
        ctx: QueryContext,
        suggestions: Arc<Suggestions>,
    ) -> Self {
        Self {
            projection,
            ctx,
            suggestions,
            adoptions: tokio::sync::OnceCell::new(),
            writing: tokio::sync::Mutex::new(()),
            effects: AnswerCache::new(16),
        }
    }

    async fn list(&self) -> Result<&RwLock<Vec<Arc<Adoption>>>> {
        self.adoptions
            .get_or_try_init(|| async {
                let loaded = store::load(self.ctx.store()).await?;
                Ok::<_, Error>(RwLock::new(loaded.into_iter().map(Arc::new).collect()))
            })
            .await
    }

    async fn find(&self, id: &str) -> Result<Option<Arc<Adoption>>> {
        let list = self
            .list()
            .await?
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(list.iter().find(|a| a.id == id).cloned())
    }

    fn today(&self) -> Day {
        self.ctx.calendar().day(portrait_service::now_ms())
    }

    /// A suggestion's status and when it was adopted (epoch ms, 0 = not);
    /// NEW until the adoptions are loaded (at the first call of any kind).
    pub fn status(&self, id: &str) -> (SuggestionStatus, i64) {
        let Some(list) = self.adoptions.get() else {
            return (SuggestionStatus::New, 0);
        };
        let list = list.read().unwrap_or_else(PoisonError::into_inner);
        list.iter()
            .find(|a| a.id == id)
            .map_or((SuggestionStatus::New, 0), |a| {
                (a.status(self.today()), a.adopted_at_ms)
            })
    }

    pub async fn adopt(&self, req: &AdoptSuggestionRequest) -> Result<AdoptedSuggestion> {
        let id = required_id(&req.id)?;
        let control_percent = req.control_percent.unwrap_or(10);
        if !(0..=50).contains(&control_percent) {
            return Err(invalid("control_percent", "must be 0 to 50"));
        }
        let window_days = req.window_days.unwrap_or(30);
        if !(1..=365).contains(&window_days) {
            return Err(invalid("window_days", "must be 1 to 365"));
        }
        let _writing = self.writing.lock().await;
        if let Some(a) = self.find(id).await? {
            return Err(if a.adopted_at_ms > 0 {
                Error::AlreadyExists {
                    field: "id",
                    id: id.to_owned(),
                }
            } else {
                Error::Conflict(format!("id {id:?}: dismissed; it cannot be adopted"))
            });
        }
        let Some((audience, names)) = self.audience(id, req.filter.as_ref()).await? else {
            return Err(not_found(id));
        };
        let members: Vec<(&str, bool)> = names
            .iter()
            .map(|n| (n.as_str(), is_control(id, n, control_percent)))
            .collect();
        let now = portrait_service::now_ms();
        let control = members.iter().filter(|(_, c)| *c).count() as i64;
        let adoption = Adoption {
            id: id.to_owned(),
            kind: audience.kind.as_str_name().to_owned(),
            title: audience.title,
            adopted_at_ms: now,
            adopted_day: self.ctx.calendar().day(now),
            window_days,
            control_percent,
            expected: audience.expected,
            dismissed_at_ms: 0,
            treated: members.len() as i64 - control,
            control,
            resolved: Mutex::default(),
        };
        store::insert(self.ctx.store(), &adoption, &members).await?;
        info!(id, members = members.len(), control, "suggestion adopted");
        let answer = adoption.answer(adoption.adopted_day);
        self.push(adoption).await?;
        Ok(answer)
    }

    /// The audience and its members' ids, named within one incarnation.
    async fn audience(
        &self,
        id: &str,
        filter: Option<&portrait_proto::v1::Filter>,
    ) -> Result<Option<(Audience, Vec<String>)>> {
        let before = self.projection.live.incarnation();
        let Some(audience) = self.suggestions.audience(id, filter).await? else {
            return Ok(None);
        };
        let (state, _) = self.projection.live.read();
        if self.projection.live.incarnation() != before {
            return Err(Error::NotReady(
                "the customer state was reloaded meanwhile; adopt again".into(),
            ));
        }
        let names = state.book.customers();
        let mut ids: Vec<String> = (audience.customers.iter())
            .map(|c| names.name(*c).to_owned())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(Some((audience, ids)))
    }

    async fn push(&self, adoption: Adoption) -> Result<()> {
        let mut list = self
            .list()
            .await?
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        list.retain(|a| a.id != adoption.id);
        list.push(Arc::new(adoption));
        Ok(())
    }

    /// Dismisses a new or adopted suggestion; dismissing again answers the
    /// same; a finished one is FAILED_PRECONDITION.
    pub async fn dismiss(&self, id: &str) -> Result<AdoptedSuggestion> {
        let id = required_id(id)?;
        let _writing = self.writing.lock().await;
        let today = self.today();
        let now = portrait_service::now_ms();
        let adoption = match self.find(id).await? {
            Some(a) if a.dismissed_at_ms > 0 => return Ok(a.answer(today)),
            Some(a) if a.status(today) == SuggestionStatus::Finished => {
                return Err(Error::Conflict(format!(
                    "id {id:?}: finished; nothing to dismiss"
                )));
            }
            Some(a) => {
                store::dismiss(self.ctx.store(), id, now).await?;
                Adoption {
                    id: a.id.clone(),
                    kind: a.kind.clone(),
                    title: a.title.clone(),
                    dismissed_at_ms: now,
                    resolved: Mutex::default(),
                    ..*a
                }
            }
            None => {
                let Some(audience) = self.suggestions.audience(id, None).await? else {
                    return Err(not_found(id));
                };
                let a = Adoption {
                    id: id.to_owned(),
                    kind: audience.kind.as_str_name().to_owned(),
                    title: audience.title,
                    adopted_at_ms: 0,
                    adopted_day: 0,
                    window_days: 0,
                    control_percent: 0,
                    expected: audience.expected,
                    dismissed_at_ms: now,
                    treated: 0,
                    control: 0,
                    resolved: Mutex::default(),
                };
                store::insert(self.ctx.store(), &a, &[]).await?;
                a
            }
        };
        info!(id, "suggestion dismissed");
        let answer = adoption.answer(today);
        self.push(adoption).await?;
        Ok(answer)
    }
}

fn required_id(id: &str) -> Result<&str> {
    if id.is_empty() {
        return Err(invalid("id", "must not be empty"));
    }
    Ok(id)
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        field: "id",
        id: id.to_owned(),
    }
}
