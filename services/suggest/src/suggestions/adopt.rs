//! What the effect tracking reads of a suggestion by its id: its audience
//! (dense ids) and expected effect, at the stores and cities the id names, for
//! the dates of the list's filter (as of today over all history without one).

use portrait_proto::v1::{Filter, SuggestionType};
use portrait_service::Result;

use super::{Suggestions, scope_of, text};
use crate::effect::{Audience, Expected};

impl Suggestions {
    /// The audience of suggestion `id`; `None` for an id no suggestion has.
    /// The habits are what is held (they only colour the words); a
    /// recommendation's rules are fetched when not held, as a list would, so
    /// it can be adopted without being listed first.
    pub async fn audience(&self, id: &str, seen: Option<&Filter>) -> Result<Option<Audience>> {
        let Some(mut filter) = scope_of(id) else {
            return Ok(None);
        };
        if let Some(seen) = seen {
            filter.from_date.clone_from(&seen.from_date);
            filter.to_date.clone_from(&seen.to_date);
            filter.as_of_date.clone_from(&seen.as_of_date);
        }
        let f = self.ctx().resolve(Some(&filter))?;
        let habits = self.held_habits(&f);
        let cross = match id.starts_with(text::slug(SuggestionType::Recommendation)) {
            true => self.cross.get(&f).await,
            false => self.cross.peek(&f).0,
        };
        let list = &self.customers;
        let (state, version) = list.projection.live.read();
        let planned = self.planned(&state, version, &f, &cross);
        let rows = list.rows(&state, version, &f);
        for d in &planned.plan.drafts {
            if super::id(d.kind, &f, &text::audience_key(d)) != id {
                continue;
            }
            let s = self.suggestion(d, &f, &state, &planned, &habits);
            let e = s.expected_effect.unwrap_or_default();
            return Ok(Some(Audience {
                id: id.to_owned(),
                kind: d.kind,
                title: s.title,
                customers: (d.audience.iter())
                    .map(|&i| rows[i as usize].agg.customer)
                    .collect(),
                expected: Expected {
                    reached: e.reached,
                    responders: e.responders,
                    extra_orders: e.extra_orders,
                    extra_revenue_fen: e.extra_revenue_fen,
                    response_rate: e.response_rate,
                },
            }));
        }
        Ok(None)
    }
}
