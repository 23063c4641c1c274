use std::future::Future;

use portrait_core::Fold;
use portrait_store::{Migration, Store};
use sqlx::AnyConnection;

use crate::Result;

/// What a consumer service keeps from the order stream. The generic consumer
/// loop decodes and dedups events, folds the fresh ones into a `Delta`, and
/// commits `write` together with the applied revisions and log positions;
/// only after the commit does it `apply` the delta to the serving state, so a
/// query never sees a half-applied batch.
pub trait Projection: Send + Sync + 'static {
    /// What one batch adds or retracts, coalesced per row.
    type Delta: Fold + Send + Sync + 'static;

    /// The service's name: its migration scope, metrics label and log field.
    fn name(&self) -> &'static str;

    /// Named migrations by scope, applied in this order; each list is append-only.
    fn migrations(&self) -> Vec<(&'static str, &'static [Migration])>;

    /// Tables a rebuild keeps: state that is not a projection of the log
    /// (a marketer's decisions), which a fresh publication cannot restore.
    fn kept_tables(&self) -> &'static [&'static str] {
        &[]
    }

    /// Drops rows whose changes cancelled out within the batch.
    fn prune(delta: &mut Self::Delta);

    /// Writes the batch's rows inside the batch's transaction.
    fn write(
        &self,
        conn: &mut AnyConnection,
        delta: &Self::Delta,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Replaces the serving state with what the store holds.
    fn load(&self, store: &Store) -> impl Future<Output = Result<()>> + Send;

    /// Adds a committed batch to the serving state.
    fn apply(&self, delta: &Self::Delta);

    /// The serving state's heap by part, for the log and `portrait_state_bytes`.
    fn state_bytes(&self) -> Vec<(&'static str, usize)> {
        Vec::new()
    }
}
