//! One customer: the portrait composed from the services that own its parts,
//! and the search that finds a customer by id or by phone.

use portrait_proto::v1::{
    CustomerBehaviourRequest, CustomerMatch, CustomerProfile, FindCustomerRequest,
    FindCustomerResponse, GetCustomerModelRequest, GetCustomerRequest, GetCustomerRfmRequest,
};
use portrait_sync::phone::{normalise_phone, phone_customer_id};
use tonic::Status;

use crate::{Gateway, upstream};

impl Gateway {
    /// The profiler's behaviour and the suggest service's model, asked at once.
    pub(crate) async fn profile(&self, r: GetCustomerRequest) -> Result<CustomerProfile, Status> {
        let (mut profiler, mut suggest) = (self.profiler.clone(), self.suggest.clone());
        let mut rfm = self.rfm.clone();
        let (behaviour, model, scored) = tokio::join!(
            profiler.get_customer_behaviour(CustomerBehaviourRequest {
                customer_id: r.customer_id.clone(),
                filter: r.filter.clone(),
            }),
            suggest.get_customer_model(GetCustomerModelRequest {
                customer_id: r.customer_id.clone(),
            }),
            rfm.get_customer_rfm(GetCustomerRfmRequest {
                customer_id: r.customer_id.clone(),
                filter: r.filter,
                rfm: None,
            }),
        );
        let behaviour = behaviour.map_err(|s| upstream("profiler", s))?.into_inner();
        let scored = match scored {
            Ok(a) => Some(a.into_inner()),
            Err(s) if s.code() == tonic::Code::NotFound => None,
            Err(s) => return Err(upstream("rfm", s)),
        };
        let (rfm, rfm_thresholds) = scored.map_or((None, None), |a| (a.rfm, a.thresholds));
        // The profiler knows the customer; a suggest service behind on the log
        // may not yet: that part is then absent, not an error.
        let model = match model {
            Ok(m) => Some(m.into_inner()),
            Err(s) if s.code() == tonic::Code::NotFound => None,
            Err(s) => return Err(upstream("suggest", s)),
        };
        Ok(CustomerProfile {
            masked_customer_id: portrait_core::mask_customer_id(&r.customer_id),
            customer_id: r.customer_id,
            behaviour: Some(behaviour),
            model,
            rfm,
            rfm_thresholds,
        })
    }

    /// A query that reads as a mobile number is a phone, hashed with the
    /// sync's key as the sync hashed it; anything else is an id. A failure
    /// never repeats the query: it may be a phone.
    pub(crate) async fn find(
        &self,
        r: FindCustomerRequest,
    ) -> Result<FindCustomerResponse, Status> {
        let query = r.query.trim();
        if query.is_empty() || query.len() > self.max_id_length {
            let reason = format!(
                "must be a customer id or a mobile number, 1 to {} bytes (domain.max_id_length)",
                self.max_id_length
            );
            let invalid = portrait_core::Error::invalid("query", reason);
            return Err(portrait_service::Error::from(invalid).into());
        }
        let (customer_id, matched_by) = match (normalise_phone(query), &self.sync.rules().phone_key)
        {
            (Some(_), None) => {
                return Err(Status::failed_precondition(
                    "a phone finds nobody: sync.pii_key is not set, so no order was keyed by phone",
                ));
            }
            (Some(_), Some(key)) => {
                let phone_id = phone_customer_id(key, query).unwrap_or_default();
                // A phone on a wx:/vip: customer's orders finds that customer.
                let indexed =
                    portrait_sync::pii_store::customer_of_phone(self.sync.store(), &phone_id)
                        .await
                        .map_err(|e| {
                            tracing::error!(error = %e, "failed to read the phone index");
                            Status::unavailable("sync's store is unreadable")
                        })?;
                (indexed.unwrap_or(phone_id), CustomerMatch::Phone)
            }
            (None, _) => (query.to_owned(), CustomerMatch::Id),
        };
        let known = self
            .profiler
            .clone()
            .get_customer_behaviour(CustomerBehaviourRequest {
                customer_id: customer_id.clone(),
                filter: None,
            })
            .await;
        match known {
            Ok(_) => Ok(FindCustomerResponse {
                masked_customer_id: portrait_core::mask_customer_id(&customer_id),
                customer_id,
                matched_by: matched_by as i32,
            }),
            Err(s) if s.code() == tonic::Code::NotFound => {
                Err(Status::not_found("no customer matches the query"))
            }
            Err(s) => Err(upstream("profiler", s)),
        }
    }
}
