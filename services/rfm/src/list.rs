//! `ListRfm`: one page of a population in the requested order, filtered by
//! segment and scores, with page tokens bound to the request (AIP-158).

use portrait_core::{
    PageToken, RfmOrder, ScoreSelection, Segment, fingerprint, page_size, rfm_order, start_after,
};
use portrait_proto::v1::{CustomerRfm, ListRfmRequest, ListRfmResponse};
use portrait_service::Result;
use prost::Message;

use crate::{Rfm, thresholds};

impl Rfm {
    pub fn list(&self, req: &ListRfmRequest) -> Result<ListRfmResponse> {
        let size = page_size("page_size", req.page_size)?;
        let segment = segment(req.segment)?;
        let order = RfmOrder::resolve(req.order_by, req.descending)?;
        let scores = ScoreSelection::resolve(&req.r_scores, &req.f_scores, &req.m_scores)?;
        let request = request_id(req);
        let token = PageToken::decode(&req.page_token, request)?;
        let key = self.key(req.filter.as_ref(), req.rfm.as_ref())?;
        // One read of the state: the table, its order and the names agree.
        let (state, version) = self.projection.live.read();
        let names = state.book.customers();
        let t = self.table(&state, version, &key);
        let positions = self.orders.get_or(&(key.clone(), order), version, || {
            rfm_order(&t, names, order)
        });
        let start = token.map_or(0, |tok| start_after(&positions, &t, names, order, &tok));
        let mut page = Vec::with_capacity(size + 1);
        for &i in &positions[start..] {
            let c = &t.customers[i as usize];
            if segment.is_some_and(|s| s != c.segment) || !scores.accepts(c) {
                continue;
            }
            page.push(c);
            if page.len() > size {
                break;
            }
        }
        let more = page.len() > size;
        page.truncate(size);
        let next_page_token = match page.last() {
            Some(c) if more => PageToken {
                request,
                key: order.key.of(c),
                customer: names.name(c.customer).to_owned(),
            }
            .encode(),
            _ => String::new(),
        };
        let customers = page
            .into_iter()
            .map(|c| CustomerRfm {
                customer_id: names.name(c.customer).to_owned(),
                recency_days: c.recency_days,
                frequency: c.frequency,
                monetary_fen: c.monetary,
                r_score: c.r_score.into(),
                f_score: c.f_score.into(),
                m_score: c.m_score.into(),
                segment: c.segment as i32,
            })
            .collect();
        Ok(ListRfmResponse {
            customers,
            next_page_token,
            thresholds: Some(thresholds(&t, &key.1)),
        })
    }
}

/// The request without its page fields: what a token is bound to.
fn request_id(req: &ListRfmRequest) -> u64 {
    let mut r = req.clone();
    r.page_token.clear();
    r.page_size = 0;
    fingerprint(&r.encode_to_vec())
}

/// The segment a list asks for; `None` for every segment.
fn segment(value: i32) -> Result<Option<Segment>> {
    if value == 0 {
        return Ok(None);
    }
    match Segment::ALL.iter().find(|s| **s as i32 == value) {
        Some(s) => Ok(Some(*s)),
        None => {
            let reason = format!("unknown segment {value}");
            Err(portrait_core::Error::invalid("segment", reason).into())
        }
    }
}
