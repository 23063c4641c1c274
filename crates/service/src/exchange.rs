//! Figures one service computes over every customer and another serves beside
//! its own (docs/architecture.md §5 "Figures that cross services"). The owner
//! answers an export in pages of one generation; the reader polls it and,
//! when the generation moves, pulls the whole generation and swaps it in.
//! Neither waits for the other to start: until the first pull the reader
//! serves its figures without the borrowed ones, and says so.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use portrait_proto::v1::{CustomerLabels, CustomerScores, ExportRequest};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{Error, Result};

const DEFAULT_PAGE: usize = 20_000;
const MAX_PAGE: usize = 50_000;

/// A lazily connected channel to another service (`key` names the setting)
/// that sends `auth.service_token`; in process when that service runs in
/// this one (`crate::local`).
pub fn peer_channel(
    key: &str,
    url: &str,
    auth: &portrait_auth::AuthSettings,
    tls: &crate::ServerSettings,
) -> Result<crate::PeerChannel> {
    let timeout = Duration::from_secs(60);
    let endpoint = crate::tls::endpoint(key, url, tls)?
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout);
    // Lazy, so a service starts before its peers and reconnects after them.
    let bearer = crate::Bearer::new(&auth.service_token)?;
    let peer = crate::local::Peer::new(url, endpoint.connect_lazy(), Some(timeout));
    Ok(tonic::service::interceptor::InterceptedService::new(
        peer, bearer,
    ))
}

/// The positions `[start, end)` of `total` items that answer `req` against
/// the owner's `generation`; `None` when the reader already holds it.
pub fn export_page(
    generation: &str,
    total: usize,
    req: &ExportRequest,
) -> Result<Option<(usize, usize, String)>> {
    if generation.is_empty() || req.known_generation == generation {
        return Ok(None);
    }
    let size = match usize::try_from(req.page_size) {
        Ok(0) => DEFAULT_PAGE,
        Ok(n) if n <= MAX_PAGE => n,
        _ => {
            let reason = format!("must be 0..={MAX_PAGE}");
            return Err(portrait_core::Error::invalid("page_size", reason).into());
        }
    };
    let start = if req.page_token.is_empty() {
        0
    } else {
        if req.generation != generation {
            return Err(Error::Stale(req.generation.clone()));
        }
        (req.page_token.parse::<usize>().ok())
            .filter(|s| *s <= total)
            .ok_or_else(|| portrait_core::Error::invalid("page_token", "not a token we gave"))?
    };
    let end = start.saturating_add(size).min(total);
    let next = if end < total {
        end.to_string()
    } else {
        String::new()
    };
    Ok(Some((start, end, next)))
}

/// Figures borrowed from another service, by this service's dense customer
/// id, and the owner's generation they came from (empty: none yet).
#[derive(Debug, Default)]
pub struct Borrowed<T> {
    pub generation: String,
    /// The reader's state incarnation the dense ids belong to.
    incarnation: u64,
    values: Vec<T>,
}

impl<T: Copy + Default> Borrowed<T> {
    /// Customer `c`'s figure; the default when it had none.
    pub fn of(&self, c: u32) -> T {
        self.values.get(c as usize).copied().unwrap_or_default()
    }
}

/// The borrowed figures in service; replaced whole when a generation arrives.
#[derive(Debug, Default)]
pub struct BorrowedBook<T>(RwLock<Arc<Borrowed<T>>>);

impl<T: Copy + Default> BorrowedBook<T> {
    /// The figures for the reader's state `incarnation`; none (an empty
    /// generation) when they were keyed by the ids of another one.
    pub fn current(&self, incarnation: u64) -> Arc<Borrowed<T>> {
        let held = self
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if held.incarnation == incarnation {
            held
        } else {
            Arc::new(Borrowed {
                generation: String::new(),
                incarnation,
                values: Vec::new(),
            })
        }
    }

    /// Serves a generation: each item's dense id here (`None`: a customer
    /// this service has not seen yet, its consumer being behind the owner's;
    /// it goes without until the next generation) and figure.
    pub fn replace(
        &self,
        what: &'static str,
        (generation, incarnation): (String, u64),
        customers: usize,
        items: impl IntoIterator<Item = (Option<u32>, T)>,
    ) {
        let mut values = vec![T::default(); customers];
        let (mut known, mut unknown) = (0_usize, 0_usize);
        for (c, v) in items {
            match c.and_then(|c| values.get_mut(c as usize)) {
                Some(slot) => {
                    *slot = v;
                    known += 1;
                }
                None => unknown += 1,
            }
        }
        info!(what, generation = %generation, known, unknown, "borrowed figures in service");
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(Borrowed {
            generation,
            incarnation,
            values,
        });
    }
}

/// A pulled generation keyed by the reader's state: that state's
/// incarnation, its customer count, and each item's dense id there (`None`:
/// not seen yet) with its figure.
pub struct Keyed<T> {
    pub incarnation: u64,
    pub customers: usize,
    pub items: Vec<(Option<u32>, T)>,
}

impl<T: Copy + Default + Send + Sync + 'static> BorrowedBook<T> {
    /// Follows an owner's export into this book every `every` until
    /// `shutdown`: `fetch` asks the owner for one page, `incarnation` reads
    /// the reader's current one, `key` keys a pulled generation by the
    /// reader's state (read once, under its lock). A generation already held
    /// for the current incarnation is not pulled again; after a reload it is.
    pub fn follow<P, F, Fut>(
        self: &Arc<Self>,
        what: &'static str,
        (every, shutdown): (Duration, CancellationToken),
        fetch: F,
        incarnation: impl Fn() -> u64 + Send + 'static,
        mut key: impl FnMut(Vec<P::Item>) -> Keyed<T> + Send + 'static,
    ) where
        P: ExportPage,
        F: FnMut(ExportRequest) -> Fut + Send + 'static,
        Fut: Future<Output = Result<P, tonic::Status>> + Send,
    {
        let held = self.clone();
        let known = move || held.current(incarnation()).generation.clone();
        let book = self.clone();
        spawn_follow(
            what,
            every,
            shutdown,
            (fetch, known),
            move |generation, items| {
                let k = key(items);
                book.replace(what, (generation, k.incarnation), k.customers, k.items);
            },
        );
    }
}

/// One page of an export, whatever it carries.
pub trait ExportPage: Send + 'static {
    type Item: Send + 'static;
    fn generation(&self) -> &str;
    fn next_page_token(&self) -> &str;
    fn into_items(self) -> Vec<Self::Item>;
}

impl ExportPage for CustomerLabels {
    type Item = portrait_proto::v1::CustomerLabel;
    fn generation(&self) -> &str {
        &self.generation
    }
    fn next_page_token(&self) -> &str {
        &self.next_page_token
    }
    fn into_items(self) -> Vec<Self::Item> {
        self.labels
    }
}

impl ExportPage for CustomerScores {
    type Item = portrait_proto::v1::CustomerScore;
    fn generation(&self) -> &str {
        &self.generation
    }
    fn next_page_token(&self) -> &str {
        &self.next_page_token
    }
    fn into_items(self) -> Vec<Self::Item> {
        self.scores
    }
}

/// Polls an owner's export every `every` until `shutdown`; each generation
/// other than `known()` (the one the reader holds for its current state),
/// whole, goes to `apply`.
fn spawn_follow<P, F, Fut>(
    what: &'static str,
    every: Duration,
    shutdown: CancellationToken,
    (mut fetch, known): (F, impl Fn() -> String + Send + 'static),
    mut apply: impl FnMut(String, Vec<P::Item>) + Send + 'static,
) where
    P: ExportPage,
    F: FnMut(ExportRequest) -> Fut + Send + 'static,
    Fut: Future<Output = Result<P, tonic::Status>> + Send,
{
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            match pull(&known(), &mut fetch).await {
                Ok(Some((generation, items))) => {
                    info!(what, generation = %generation, items = items.len(), "generation pulled");
                    apply(generation, items);
                    failing = false;
                }
                Ok(None) => failing = false,
                // The owner stopping with us is no failure.
                Err(_) if shutdown.is_cancelled() => return,
                // The owner may simply not be up yet: say it once per streak.
                Err(status) if !failing => {
                    warn!(what, code = ?status.code(), error = %status.message(), "pull failed; retrying");
                    failing = true;
                }
                Err(status) => debug!(what, error = %status.message(), "pull failed again"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    });
}

/// The owner's generation if it is not `known`, all pages of it.
async fn pull<P, F, Fut>(
    known: &str,
    fetch: &mut F,
) -> Result<Option<(String, Vec<P::Item>)>, tonic::Status>
where
    P: ExportPage,
    F: FnMut(ExportRequest) -> Fut,
    Fut: Future<Output = Result<P, tonic::Status>>,
{
    'generation: loop {
        let first = fetch(ExportRequest {
            known_generation: known.to_owned(),
            ..ExportRequest::default()
        })
        .await?;
        let generation = first.generation().to_owned();
        if generation.is_empty() || generation == known {
            return Ok(None);
        }
        let mut token = first.next_page_token().to_owned();
        let mut items = first.into_items();
        while !token.is_empty() {
            let page = match fetch(ExportRequest {
                page_token: token.clone(),
                generation: generation.clone(),
                ..ExportRequest::default()
            })
            .await
            {
                Ok(page) => page,
                // Replaced while we read it: read the new one.
                Err(s) if s.code() == tonic::Code::FailedPrecondition => continue 'generation,
                Err(s) => return Err(s),
            };
            token = page.next_page_token().to_owned();
            items.extend(page.into_items());
        }
        return Ok(Some((generation, items)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(known: &str, generation: &str, token: &str, size: i32) -> ExportRequest {
        ExportRequest {
            known_generation: known.into(),
            page_token: token.into(),
            generation: generation.into(),
            page_size: size,
        }
    }

    #[test]
    fn pages_cover_a_generation_once_and_refuse_another_one() {
        assert_eq!(export_page("g1", 5, &req("g1", "", "", 0)).unwrap(), None);
        assert_eq!(export_page("", 5, &req("", "", "", 0)).unwrap(), None);
        let first = export_page("g1", 5, &req("", "", "", 2)).unwrap();
        assert_eq!(first, Some((0, 2, "2".into())));
        let last = export_page("g1", 5, &req("", "g1", "4", 2)).unwrap();
        assert_eq!(last, Some((4, 5, String::new())));
        let stale = export_page("g2", 5, &req("", "g1", "2", 2)).unwrap_err();
        assert_eq!(
            tonic::Status::from(stale).code(),
            tonic::Code::FailedPrecondition
        );
        assert!(export_page("g1", 5, &req("", "g1", "9", 2)).is_err());
        assert!(export_page("g1", 5, &req("", "", "", 50_001)).is_err());
    }

    #[test]
    fn borrowed_figures_belong_to_one_incarnation_of_the_state() {
        let book = BorrowedBook::<u8>::default();
        let items = [(Some(0), 7), (Some(2), 9), (None, 1), (Some(5), 3)];
        book.replace("test", ("g1".into(), 4), 3, items);
        let now = book.current(4);
        assert_eq!(
            (now.generation.as_str(), now.of(0), now.of(1), now.of(2)),
            ("g1", 7, 0, 9)
        );
        // Out of range (5) and unknown (None) customers are left out.
        assert_eq!(now.of(5), 0);
        // After a reload the ids are new: nothing, and no generation held.
        let later = book.current(5);
        assert_eq!((later.generation.as_str(), later.of(0)), ("", 0));
    }

    #[tokio::test]
    async fn a_follower_pulls_every_page_and_restarts_a_replaced_generation() {
        // The owner moves from g1 to g2 after the reader's first page of g1.
        let items: Vec<i32> = (0..5).collect();
        let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let fetch = |r: ExportRequest| {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let generation = if n == 0 { "g1" } else { "g2" };
            let page = export_page(
                generation,
                items.len(),
                &ExportRequest { page_size: 2, ..r },
            );
            let out = page.map_err(tonic::Status::from).map(|p| {
                let (start, end, next) = p.unwrap_or((0, 0, String::new()));
                CustomerScores {
                    generation: generation.into(),
                    scores: (items[start..end].iter())
                        .map(|i| portrait_proto::v1::CustomerScore {
                            customer_id: i.to_string(),
                            ..Default::default()
                        })
                        .collect(),
                    next_page_token: next,
                    total: items.len() as i64,
                }
            });
            async move { out }
        };
        let mut fetch = fetch;
        let (generation, got) = pull("", &mut fetch).await.unwrap().unwrap();
        assert_eq!(generation, "g2");
        let ids: Vec<String> = got.into_iter().map(|s| s.customer_id).collect();
        assert_eq!(ids, ["0", "1", "2", "3", "4"]);
        assert!(pull("g2", &mut fetch).await.unwrap().is_none());
    }
}
