//! What the suggest service trades with the profiler (docs/architecture.md §5
//! "Figures that cross services"): it exports the model scores of the fit in
//! service, and follows the profiler's clusters and main channels, which the
//! customer list filters by.

use std::sync::Arc;
use std::time::Duration;

use portrait_proto::v1::profiler_query_client::ProfilerQueryClient;
use portrait_proto::v1::{CustomerLabel, CustomerScore, CustomerScores, ExportRequest};
use portrait_service::PeerChannel as Channel;
use portrait_service::exchange::{BorrowedBook, Keyed, export_page};
use portrait_service::{CustomerProjection, Result};
use tokio_util::sync::CancellationToken;

use crate::models::Models;

/// Each customer's (cluster 1..k, main channel's enum number); 0 = none.
pub type LabelBook = BorrowedBook<(u8, u8)>;

impl Models {
    pub fn export(&self, req: &ExportRequest) -> Result<CustomerScores> {
        let Some(served) = self.served() else {
            return Ok(CustomerScores::default());
        };
        let generation = served.generation();
        let scored = served.scored();
        let total = scored.len() as i64;
        let Some((start, end, next)) = export_page(&generation, scored.len(), req)? else {
            return Ok(CustomerScores {
                generation,
                total,
                ..CustomerScores::default()
            });
        };
        let (state, _) = self.projection.live.read();
        let names = state.book.customers();
        let scores = (scored[start..end].iter())
            .filter_map(|&c| {
                let s = served.score(c)?;
                Some(CustomerScore {
                    customer_id: names.name(c).to_owned(),
                    alive_probability: s.alive_probability,
                    predicted_clv_fen: f64::from(s.predicted_clv_fen),
                })
            })
            .collect();
        Ok(CustomerScores {
            generation,
            scores,
            next_page_token: next,
            total,
        })
    }
}

/// Follows the profiler's labels every `every` until `shutdown`.
pub(crate) fn follow_labels(
    book: &Arc<LabelBook>,
    projection: Arc<CustomerProjection>,
    profiler: Channel,
    every: Duration,
    shutdown: CancellationToken,
) {
    let client = ProfilerQueryClient::new(profiler).max_decoding_message_size(64 << 20);
    let fetch = move |req| {
        let mut client = client.clone();
        async move { Ok(client.export_customer_labels(req).await?.into_inner()) }
    };
    let live = projection.clone();
    book.follow(
        "customer labels",
        (every, shutdown),
        fetch,
        move || live.live.incarnation(),
        move |items: Vec<CustomerLabel>| {
            let (state, _) = projection.live.read();
            let names = state.book.customers();
            let byte = |v: i32| u8::try_from(v).unwrap_or(0);
            Keyed {
                incarnation: projection.live.incarnation(),
                customers: names.len(),
                items: (items.iter())
                    .map(|l| {
                        (
                            names.get(&l.customer_id),
                            (byte(l.cluster), byte(l.main_channel)),
                        )
                    })
                    .collect(),
            }
        },
    );
}
