//! The read side of the tracker: the adoptions, one adoption's effect from
//! the live state, its members, and a type's tracked response rate.

use std::sync::{Arc, PoisonError};

use portrait_core::{page_size, page_start};
use portrait_proto::v1::{
    AdoptedSuggestion, EffectGroup, ListAdoptedSuggestionsResponse, ListSuggestionMembersRequest,
    ListSuggestionMembersResponse, SuggestionEffect, SuggestionMember, SuggestionStatus,
    SuggestionType,
};
use portrait_service::{Error, Result};

use super::{Adoption, Resolved, Tracker, answer, invalid, required_id, store};

impl Tracker {
    pub async fn adopted(&self) -> Result<ListAdoptedSuggestionsResponse> {
        let today = self.today();
        let list = self
            .list()
            .await?
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut suggestions: Vec<AdoptedSuggestion> =
            list.iter().map(|a| a.answer(today)).collect();
        // Newest adoption first; one dismissed unadopted by its dismissal.
        let when = |a: &AdoptedSuggestion| {
            if a.adopted_at_ms > 0 {
                a.adopted_at_ms
            } else {
                a.dismissed_at_ms
            }
        };
        suggestions.sort_by(|a, b| when(b).cmp(&when(a)).then_with(|| a.id.cmp(&b.id)));
        Ok(ListAdoptedSuggestionsResponse { suggestions })
    }

    async fn adopted_one(&self, id: &str) -> Result<Arc<Adoption>> {
        let id = required_id(id)?;
        match self.find(id).await? {
            Some(a) if a.adopted_at_ms > 0 => Ok(a),
            _ => Err(Error::NotFound {
                field: "id",
                id: id.to_owned(),
            }),
        }
    }

    /// The members as dense ids of the current state, looked up again after
    /// a reload or when members were unknown and customers have arrived.
    async fn resolved(&self, a: &Adoption) -> Result<Arc<Resolved>> {
        let (incarnation, known) = {
            let (state, _) = self.projection.live.read();
            (
                self.projection.live.incarnation(),
                state.book.customers().len(),
            )
        };
        let cached = a
            .resolved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(r) = cached
            && r.incarnation == incarnation
            && (r.unresolved == [0, 0] || r.known == known)
        {
            return Ok(r);
        }
        let names = store::members(self.ctx.store(), &a.id, None, 0, None).await?;
        let (state, _) = self.projection.live.read();
        let interner = state.book.customers();
        let mut members = Vec::with_capacity(names.len());
        let mut unresolved = [0i64; 2];
        for (name, control) in &names {
            match interner.get(name) {
                Some(c) => members.push((c, *control)),
                None => unresolved[usize::from(*control)] += 1,
            }
        }
        let r = Arc::new(Resolved {
            incarnation: self.projection.live.incarnation(),
            known: interner.len(),
            members,
            unresolved,
        });
        *a.resolved.lock().unwrap_or_else(PoisonError::into_inner) = Some(r.clone());
        Ok(r)
    }

    pub async fn effect(&self, id: &str) -> Result<SuggestionEffect> {
        let a = self.adopted_one(id).await?;
        let today = self.today();
        let key = (a.id.clone(), today, a.dismissed_at_ms);
        // The members' dense ids belong to one incarnation: a reload between
        // resolving them and reading the state means resolving again.
        for _ in 0..3 {
            let r = self.resolved(&a).await?;
            let (state, version) = self.projection.live.read();
            if self.projection.live.incarnation() != r.incarnation {
                continue;
            }
            let answer = self.effects.get_or(&key, version, || {
                let mut e = answer::effect(&state.book, &a, &r);
                e.suggestion = Some(a.answer(today));
                e.days_elapsed = (today - a.adopted_day + 1).clamp(0, a.window_days);
                e
            });
            return Ok((*answer).clone());
        }
        Err(Error::NotReady(
            "the customer state is being reloaded; ask again".into(),
        ))
    }

    pub async fn members(
        &self,
        req: &ListSuggestionMembersRequest,
    ) -> Result<ListSuggestionMembersResponse> {
        let size = page_size("page_size", req.page_size)?;
        let start = page_start(&req.page_token)?;
        let group =
            EffectGroup::try_from(req.group).map_err(|_| invalid("group", "unknown value"))?;
        let a = self.adopted_one(&req.id).await?;
        let (control, total) = match group {
            EffectGroup::Unspecified => (None, a.treated + a.control),
            EffectGroup::Treated => (Some(false), a.treated),
            EffectGroup::Control => (Some(true), a.control),
        };
        let rows = store::members(self.ctx.store(), &a.id, control, start, Some(size)).await?;
        let end = start + rows.len();
        Ok(ListSuggestionMembersResponse {
            members: rows
                .into_iter()
                .map(|(customer_id, control)| SuggestionMember {
                    customer_id,
                    group: if control {
                        EffectGroup::Control
                    } else {
                        EffectGroup::Treated
                    } as i32,
                })
                .collect(),
            next_page_token: portrait_core::next_page_token(end, total as usize),
            total,
        })
    }

    /// The tracked response rate of a type: over its finished adoptions with
    /// both groups (not dismissed), the pooled treated response rate minus
    /// the pooled control response rate (the incremental responders per
    /// customer contacted), with a sentence saying what it rests on. None
    /// before any such adoption.
    pub async fn response_rate(&self, kind: SuggestionType) -> Result<Option<(f64, String)>> {
        let today = self.today();
        let finished: Vec<Arc<Adoption>> = {
            let list = self
                .list()
                .await?
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            (list.iter())
                .filter(|a| a.kind == kind.as_str_name() && a.adopted_at_ms > 0)
                .filter(|a| a.status(today) == SuggestionStatus::Finished)
                .filter(|a| a.treated > 0 && a.control > 0)
                .cloned()
                .collect()
        };
        let mut pooled = [(0i64, 0i64); 2];
        for a in &finished {
            let e = self.effect(&a.id).await?;
            for (slot, g) in pooled.iter_mut().zip([e.treated, e.control]) {
                let g = g.unwrap_or_default();
                slot.0 += g.responders;
                slot.1 += g.customers;
            }
        }
        let [(rt, nt), (rc, nc)] = pooled;
        if nt == 0 || nc == 0 {
            return Ok(None);
        }
        let rate = rt as f64 / nt as f64 - rc as f64 / nc as f64;
        let source = format!(
            "{} 次已完成采纳的实测：实验组 {nt} 人中 {rt} 人响应，对照组 {nc} 人中 {rc} 人响应",
            finished.len()
        );
        Ok(Some((rate, source)))
    }
}
