//! `RevealCustomer`: the plain values behind a pseudonymous customer id, read
//! from the sync's encrypted copies, for an admin, recorded in the audit log
//! with the id it revealed (docs/architecture.md §11 "PII").

use portrait_auth::Principal;
use portrait_proto::v1::{RevealCustomerRequest, RevealCustomerResponse};
use portrait_service::AuditSink;
use tonic::{Request, Status};

use crate::Gateway;

const RPC: &str = "/portrait.v1.PortraitService/RevealCustomer";

impl Gateway {
    pub(crate) async fn reveal(
        &self,
        r: Request<RevealCustomerRequest>,
    ) -> Result<RevealCustomerResponse, Status> {
        let principal = r.extensions().get::<Principal>().cloned();
        let peer = r.remote_addr();
        let customer_id = r.into_inner().customer_id.trim().to_owned();
        if customer_id.is_empty() || customer_id.len() > self.max_id_length {
            let reason = format!(
                "must be a customer id, 1 to {} bytes (domain.max_id_length)",
                self.max_id_length
            );
            let invalid = portrait_core::Error::invalid("customer_id", reason);
            return Err(portrait_service::Error::from(invalid).into());
        }
        let Some(cipher) = &self.sync.rules().cipher else {
            return Err(Status::failed_precondition(
                "sync.pii_encryption_key is not set: no plain values are kept to reveal",
            ));
        };
        let revealed = portrait_sync::pii_store::reveal(self.sync.store(), cipher, &customer_id)
            .await
            .map_err(|e| match e {
                // Another key, or an altered row: the message names the key and
                // the row, never a value.
                portrait_sync::Error::Corrupt(m) => Status::failed_precondition(m),
                other => {
                    tracing::error!(error = %other, "failed to read the reveal store");
                    Status::unavailable("sync's store is unreadable")
                }
            })?
            .ok_or_else(|| Status::not_found("no plain values are kept for this customer"))?;
        // Written before the values leave: a reveal that cannot be recorded is not made.
        let event = portrait_service::audit_event(
            principal.as_ref(),
            RPC,
            "revealed",
            &format!("customer_id={customer_id}"),
            peer,
        );
        (self.audit.own.record_now(event).await).map_err(|r| portrait_service::unrecorded(&r))?;
        Ok(RevealCustomerResponse {
            customer_id,
            open_id: revealed.open_id,
            member_id: revealed.member_id,
            phone: revealed.phone,
        })
    }
}
