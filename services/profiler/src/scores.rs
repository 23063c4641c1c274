//! The suggest service's model scores, borrowed for the portrait summary's
//! mean predicted CLV (docs/architecture.md §5 "Figures that cross services").

use std::sync::Arc;
use std::time::Duration;

use portrait_proto::v1::CustomerScore;
use portrait_proto::v1::suggest_query_client::SuggestQueryClient;
use portrait_service::PeerChannel as Channel;
use portrait_service::exchange::{BorrowedBook, Keyed};
use tokio_util::sync::CancellationToken;

use crate::ProfilerProjection;

/// Each customer's predicted CLV in fen under the suggest service's fit;
/// NaN = not scored (newer than the fit, or no fit yet).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Clv(pub(crate) f64);

impl Default for Clv {
    fn default() -> Self {
        Clv(f64::NAN)
    }
}

pub(crate) type ScoreBook = BorrowedBook<Clv>;

/// Follows the suggest service's scores every `every` until `shutdown`.
pub(crate) fn follow_scores(
    book: &Arc<ScoreBook>,
    projection: Arc<ProfilerProjection>,
    suggest: Channel,
    every: Duration,
    shutdown: CancellationToken,
) {
    let client = SuggestQueryClient::new(suggest).max_decoding_message_size(64 << 20);
    let fetch = move |req| {
        let mut client = client.clone();
        async move { Ok(client.export_customer_scores(req).await?.into_inner()) }
    };
    let live = projection.clone();
    book.follow(
        "model scores",
        (every, shutdown),
        fetch,
        move || live.live.incarnation(),
        move |items: Vec<CustomerScore>| {
            let (state, _) = projection.live.read();
            let names = state.customers.book.customers();
            Keyed {
                incarnation: projection.live.incarnation(),
                customers: names.len(),
                items: (items.iter())
                    .map(|s| (names.get(&s.customer_id), Clv(s.predicted_clv_fen)))
                    .collect(),
            }
        },
    );
}
