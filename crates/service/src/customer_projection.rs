use portrait_core::CustomerDays;
use portrait_core::memory::CustomerState;
use portrait_store::{
    CUSTOMER_DAYS_MIGRATIONS, Migration, Store, load_customer_days, write_customer_days,
};
use sqlx::AnyConnection;

use crate::{Live, Projection, Result};

/// A projection of customer days only: what RFM and the customer rules need.
/// A service that needs more keeps its own projection beside this one's parts.
#[derive(Debug)]
pub struct CustomerProjection {
    name: &'static str,
    pub live: Live<CustomerState>,
    /// A service's own tables beside the component's: (scope, migrations).
    own: Vec<(&'static str, &'static [Migration])>,
    kept: &'static [&'static str],
}

impl CustomerProjection {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            live: Live::default(),
            own: Vec::new(),
            kept: &[],
        }
    }

    /// Adds a scope of the service's own tables, migrated after the
    /// component's; `kept` are those of them a rebuild must not empty.
    pub fn with_tables(
        mut self,
        scope: &'static str,
        migrations: &'static [Migration],
        kept: &'static [&'static str],
    ) -> Self {
        self.own.push((scope, migrations));
        self.kept = kept;
        self
    }
}

impl Projection for CustomerProjection {
    type Delta = CustomerDays;

    fn name(&self) -> &'static str {
        self.name
    }

    fn migrations(&self) -> Vec<(&'static str, &'static [Migration])> {
        let mut scopes = vec![("customer_days", CUSTOMER_DAYS_MIGRATIONS)];
        scopes.extend(self.own.iter().copied());
        scopes
    }

    fn kept_tables(&self) -> &'static [&'static str] {
        self.kept
    }

    fn prune(delta: &mut Self::Delta) {
        delta.prune();
    }

    async fn write(&self, conn: &mut AnyConnection, delta: &Self::Delta) -> Result<()> {
        let new = self.live.read().0.new_rows(delta);
        Ok(write_customer_days(conn, delta, &new).await?)
    }

    async fn load(&self, store: &Store) -> Result<()> {
        self.live.replace(load_customer_days(store.pool()).await?);
        Ok(())
    }

    fn apply(&self, delta: &Self::Delta) {
        self.live.update(|s| s.apply(delta));
    }

    fn state_bytes(&self) -> Vec<(&'static str, usize)> {
        self.live.read().0.heap_parts().to_vec()
    }
}
