//! The marketing suggestions (docs/architecture.md §3 "Suggestions"): every
//! type over the filter's customers, each with its audience, priority and
//! expected effect, and the audience paged.

mod adopt;
mod audiences;
mod fetched;
mod figure;
mod measure;
mod plan;
mod rates;
mod text;
mod warm;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use portrait_core::memory::CustomerState;
use portrait_core::{Calendar, Day, ResolvedFilter, next_page_token, page_size, page_start};
use portrait_proto::v1::{
    GroupPatterns, ListSuggestionAudienceRequest, ListSuggestionAudienceResponse,
    ListSuggestionsRequest, ListSuggestionsResponse, Priority, Suggestion, SuggestionScope,
    SuggestionStatus, SuggestionType,
};
use portrait_service::PeerChannel as Channel;
use portrait_service::{AnswerCache, Result, SuggestSettings};

use crate::customers::CustomerList;
pub use measure::{PlanTimes, measure_plan};
use plan::{Inputs, Plan};
pub(crate) use rates::Tracked;

/// A plan with when it was computed.
pub(crate) struct Planned {
    plan: Plan,
    at: DateTime<Utc>,
}

/// The suggestions of one service.
pub struct Suggestions {
    pub(crate) customers: Arc<CustomerList>,
    /// Per (filter, the fit's time in ms, the cross-sell answer's number)
    /// and state version.
    plans: AnswerCache<(ResolvedFilter, i64, u64), Planned>,
    /// The segments' habits with their items, never waited for (on a large
    /// chain the items take seconds); and without them, waited for.
    habits: Arc<fetched::Fetched<GroupPatterns>>,
    rhythm: Arc<fetched::Fetched<GroupPatterns>>,
    cross: Arc<fetched::Fetched<fetched::CrossRules>>,
    settings: SuggestSettings,
    /// The effect tracking's measured response rates, as last given.
    tracked: std::sync::RwLock<rates::Tracked>,
    /// The filters listed lately, whose plans are kept warm.
    recent: warm::Recent,
}

impl Suggestions {
    /// The measured response rates the next answers assume (the effect
    /// tracking's, refreshed by the service before each list).
    pub(crate) fn set_tracked(&self, tracked: rates::Tracked) {
        *self
            .tracked
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tracked;
    }

    pub(crate) fn new(
        customers: Arc<CustomerList>,
        profiler: Channel,
        settings: SuggestSettings,
    ) -> Self {
        let timeout = Duration::from_millis(settings.profiler_timeout_ms);
        let projection = customers.projection.clone();
        Self {
            customers,
            plans: AnswerCache::new(8),
            habits: Arc::new(fetched::habits(profiler.clone(), timeout, false)),
            rhythm: Arc::new(fetched::habits(profiler.clone(), timeout, true)),
            cross: Arc::new(fetched::cross_sell(profiler, timeout, projection)),
            settings,
            tracked: std::sync::RwLock::default(),
            recent: warm::Recent::default(),
        }
    }

    pub(crate) fn ctx(&self) -> &portrait_service::QueryContext {
        &self.customers.ctx
    }

    /// The plan of `f` at the state's version, with the state it was read under.
    fn planned(
        &self,
        state: &CustomerState,
        version: u64,
        f: &ResolvedFilter,
        cross: &fetched::Held<fetched::CrossRules>,
    ) -> Arc<Planned> {
        let list = &self.customers;
        let served = list.models.served();
        let fit = served
            .as_ref()
            .map_or(0, |s| s.fitted_at.timestamp_millis());
        let answer = cross.as_ref().map_or(0, |(_, n)| *n);
        let incarnation = list.projection.live.incarnation();
        self.plans.get_or(&(f.clone(), fit, answer), version, || {
            let rows = list.rows(state, version, f);
            let sel = state.stores.select(f);
            let (from, to) = list.rfm.clip(f.from, f.to, f.as_of);
            let score = |c: u32| served.as_ref().and_then(|s| s.score(c));
            let inputs = Inputs {
                rows: &rows,
                score: served.as_ref().map(|_| &score as &dyn Fn(u32) -> _),
                book: &state.book,
                sel: &sel,
                from,
                to,
                settings: &self.settings,
                cross: match cross {
                    Ok((c, _)) if c.incarnation == incarnation => Ok(&**c),
                    Ok(_) => Err("画像服务的关联名单属于重载前的状态，正在重新获取"),
                    Err(why) => Err(why.as_str()),
                },
            };
            Planned {
                plan: plan::plan(&inputs),
                at: Utc::now(),
            }
        })
    }

    pub async fn list(&self, req: &ListSuggestionsRequest) -> Result<ListSuggestionsResponse> {
        let size = page_size("page_size", req.page_size)?;
        let start = page_start(&req.page_token)?;
        let kind = SuggestionType::try_from(req.r#type).map_err(|_| invalid("type"))?;
        let min_priority =
            Priority::try_from(req.min_priority).map_err(|_| invalid("min_priority"))?;
        let f = self.ctx().resolve(req.filter.as_ref())?;
        self.recent.asked(req.filter.as_ref());
        // Before the state is read: no lock is held across the wait.
        let full = self.habits.now(&f);
        let rhythm = async {
            match full.is_ok() {
                true => Err(String::new()),
                false => self.rhythm.get(&f).await,
            }
        };
        let (rhythm, cross) = tokio::join!(rhythm, self.cross.get(&f));
        let habits = fetched::Habits::of(full, rhythm);
        let (state, version) = self.customers.projection.live.read();
        // Dense ids of a replaced state mean nothing: fetch them again.
        let now = self.customers.projection.live.incarnation();
        if cross.as_ref().is_ok_and(|(c, _)| c.incarnation != now) {
            self.cross.expire(&f);
        }
        let planned = self.planned(&state, version, &f, &cross);
        let mut all: Vec<Suggestion> = (planned.plan.drafts.iter())
            .filter(|d| kind == SuggestionType::Unspecified || d.kind == kind)
            .map(|d| self.suggestion(d, &f, &state, &planned, &habits))
            .filter(|s| s.priority >= min_priority as i32)
            .collect();
        all.sort_by(|a, b| {
            (b.priority.cmp(&a.priority))
                .then(b.value_at_stake_fen.total_cmp(&a.value_at_stake_fen))
                .then_with(|| a.id.cmp(&b.id))
        });
        let total = all.len();
        let suggestions: Vec<Suggestion> = all.into_iter().skip(start).take(size).collect();
        Ok(ListSuggestionsResponse {
            next_page_token: next_page_token(start + suggestions.len(), total),
            suggestions,
            total: total as i64,
            filter: Some(f.applied()),
            notes: planned.plan.notes.clone(),
        })
    }

    pub async fn audience_page(
        &self,
        req: &ListSuggestionAudienceRequest,
    ) -> Result<ListSuggestionAudienceResponse> {
        let size = page_size("page_size", req.page_size)?;
        let start = page_start(&req.page_token)?;
        if req.suggestion_id.is_empty() {
            return Err(portrait_core::Error::invalid("suggestion_id", "must not be empty").into());
        }
        let f = self.ctx().resolve(req.filter.as_ref())?;
        let habits = self.held_habits(&f);
        // A recommendation needs the rules it was listed with.
        let cross = match req
            .suggestion_id
            .starts_with(text::slug(SuggestionType::Recommendation))
        {
            true => self.cross.get(&f).await,
            false => self.cross.peek(&f).0,
        };
        let list = &self.customers;
        let (state, version) = list.projection.live.read();
        let planned = self.planned(&state, version, &f, &cross);
        let found = (planned.plan.drafts.iter())
            .map(|d| (d, self.suggestion(d, &f, &state, &planned, &habits)))
            .find(|(_, s)| s.id == req.suggestion_id);
        let Some((draft, suggestion)) = found else {
            return Err(portrait_service::Error::NotFound {
                field: "suggestion_id",
                id: req.suggestion_id.clone(),
            });
        };
        let rows = list.rows(&state, version, &f);
        let served = list.models.served();
        let labels = list.labels.current(list.projection.live.incarnation());
        let names = state.book.customers();
        let rank = list.ranks.of(names);
        let customers = (draft.ordered(&rows, &rank).iter().skip(start).take(size))
            .map(|&i| {
                let r = &rows[i as usize];
                let score = served.as_ref().and_then(|s| s.score(r.agg.customer));
                crate::customers::item(names.name(r.agg.customer), r, score, &labels)
            })
            .collect::<Vec<_>>();
        let total = draft.audience.len();
        Ok(ListSuggestionAudienceResponse {
            next_page_token: next_page_token(start + customers.len(), total),
            customers,
            total: total as i64,
            suggestion: Some(suggestion),
        })
    }

    /// The habits held for `f`, without waiting: they only colour the words.
    pub(crate) fn held_habits(&self, f: &ResolvedFilter) -> fetched::Habits {
        fetched::Habits::of(self.habits.peek(f).0, self.rhythm.peek(f).0)
    }

    fn suggestion(
        &self,
        d: &plan::Draft,
        f: &ResolvedFilter,
        state: &CustomerState,
        planned: &Planned,
        habits: &fetched::Habits,
    ) -> Suggestion {
        let (scope, scope_key) = scope(f);
        let audience_key = text::audience_key(d);
        let store = d.store.and_then(|s| {
            let info = state.stores.info(s)?;
            Some((info.name.as_str(), info.city.as_str()))
        });
        let rate = {
            let tracked = self
                .tracked
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            rates::response_rate(d.kind, &tracked)
        };
        let context = text::Context {
            settings: &self.settings,
            habits,
            store,
            rate: rate.0,
        };
        let (title, content, omitted) = text::words(d, &context);
        let effect = text::effect(d, rate);
        // Nurture and recommendations put no spend at stake: what they are
        // expected to bring.
        let value = match d.kind {
            SuggestionType::SecondPurchase | SuggestionType::Recommendation => {
                effect.extra_revenue_fen as f64
            }
            _ => d.value_at_stake,
        };
        let valid_until = f
            .as_of
            .saturating_add(Day::try_from(self.settings.valid_days).unwrap_or(Day::MAX));
        Suggestion {
            id: id(d.kind, f, &audience_key),
            r#type: d.kind as i32,
            title,
            content,
            priority: text::priority(value, &self.settings) as i32,
            value_at_stake_fen: value,
            expected_effect: Some(effect),
            audience_size: d.audience.len() as i64,
            scope: scope as i32,
            scope_key,
            audience_key,
            created_at: planned.at.to_rfc3339_opts(SecondsFormat::Millis, true),
            valid_until: Calendar::format_day(valid_until),
            status: SuggestionStatus::New as i32,
            figures: text::figures(d),
            omitted,
        }
    }
}

/// The filter's stores as a scope: the chain, its cities, or its stores
/// (and cities), each list sorted.
fn scope(f: &ResolvedFilter) -> (SuggestionScope, String) {
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v.dedup();
        v.join(",")
    };
    match (f.store_ids.is_empty(), f.cities.is_empty()) {
        (true, true) => (SuggestionScope::Chain, String::new()),
        (true, false) => (SuggestionScope::City, sorted(&f.cities)),
        (false, true) => (SuggestionScope::Store, sorted(&f.store_ids)),
        (false, false) => (
            SuggestionScope::Store,
            format!("{};{}", sorted(&f.store_ids), sorted(&f.cities)),
        ),
    }
}

/// `<type>:<audience key>`, then `@city:<cities>` or `@store:<store ids>`
/// (`;city:<cities>` when the filter names both; each list sorted,
/// comma-separated), nothing for the chain: the same campaign keeps its id
/// while its figures move, and the filter's stores can be read back from it
/// (`scope_of`). The filter's dates are not in it.
pub(crate) fn id(kind: SuggestionType, f: &ResolvedFilter, audience: &str) -> String {
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v.dedup();
        v.join(",")
    };
    let at = match (f.store_ids.is_empty(), f.cities.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!("@city:{}", sorted(&f.cities)),
        (false, true) => format!("@store:{}", sorted(&f.store_ids)),
        (false, false) => format!("@store:{};city:{}", sorted(&f.store_ids), sorted(&f.cities)),
    };
    format!("{}:{audience}{at}", text::slug(kind))
}

/// The stores and cities an id names (dates left to their defaults); `None`
/// for text that is not such an id.
pub(crate) fn scope_of(id: &str) -> Option<portrait_proto::v1::Filter> {
    let (_, rest) = id.split_once(':')?;
    let mut filter = portrait_proto::v1::Filter::default();
    let Some((_, at)) = rest.rsplit_once('@') else {
        return Some(filter);
    };
    for part in at.split(';') {
        let list = |v: &str| v.split(',').map(str::to_owned).collect::<Vec<_>>();
        match part.split_once(':')? {
            ("store", v) => filter.store_ids = list(v),
            ("city", v) => filter.cities = list(v),
            _ => return None,
        }
    }
    Some(filter)
}

fn invalid(field: &str) -> portrait_service::Error {
    portrait_core::Error::invalid(field, "unknown value").into()
}

#[cfg(test)]
mod tests {
    use portrait_proto::v1::Filter;

    use super::*;

    /// An id names its type, audience and stores, and gives the stores back.
    #[test]
    fn ids_round_trip_their_scope() {
        let filter = |stores: &[&str], cities: &[&str]| Filter {
            store_ids: stores.iter().map(|s| (*s).to_owned()).collect(),
            cities: cities.iter().map(|s| (*s).to_owned()).collect(),
            ..Filter::default()
        };
        let cases = [
            (filter(&[], &[]), "churn:all"),
            (filter(&[], &["北京", "上海"]), "churn:all@city:上海,北京"),
            (filter(&["s2", "s1"], &[]), "churn:all@store:s1,s2"),
            (filter(&["s1"], &["上海"]), "churn:all@store:s1;city:上海"),
        ];
        for (given, want) in cases {
            let f = ResolvedFilter::resolve(Some(&given), 20_000).expect("filter");
            let id = id(SuggestionType::ChurnWarning, &f, "all");
            assert_eq!(id, want);
            let back = scope_of(&id).expect("a scope");
            let sorted = |mut v: Vec<String>| {
                v.sort();
                v
            };
            assert_eq!(sorted(back.store_ids), sorted(given.store_ids), "{id}");
            assert_eq!(sorted(back.cities), sorted(given.cities), "{id}");
        }
        let rule = id(
            SuggestionType::Recommendation,
            &ResolvedFilter::resolve(None, 1).expect("f"),
            "a:1>b@2",
        );
        assert_eq!(rule, "recommend:a:1>b@2");
        assert!(scope_of("no id").is_none());
    }
}
