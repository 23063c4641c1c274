use portrait_proto::v1::{Order, OrderEvent, OrderStatus};

use crate::ValidOrder;

/// The latest accepted version of an order, as ingest keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Revision of the last published event; 0 if none was ever published.
    pub revision: i64,
    pub order: Order,
    /// Whether the order currently counts (paid, not cancelled or refunded).
    pub live: bool,
}

/// What ingest does with a submitted order.
// Made once per submission and consumed at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Identical to the latest accepted version: nothing to store or publish.
    Unchanged { revision: i64 },
    /// Store `stored`; publish `event` if the change affects any figure.
    Accept {
        stored: Stored,
        event: Option<OrderEvent>,
    },
}

pub fn is_live(order: &Order) -> bool {
    order.status == OrderStatus::Paid as i32
}

pub fn is_refunded(order: &Order) -> bool {
    order.status == OrderStatus::Refunded as i32
}

/// What a submission does to the refund counts: (the refunded version to take
/// out, the refunded version to count). The counts are kept per store and day
/// of placing, so a refunded order re-sent with only other fields changed
/// moves nothing. An order first seen refunded counts: a refund says it was
/// paid, whether or not Portrait saw it paid.
fn refund_change(stored: Option<&Order>, incoming: &Order) -> (Option<Order>, Option<Order>) {
    let was = stored.filter(|o| is_refunded(o));
    let now = is_refunded(incoming).then_some(incoming);
    match (was, now) {
        (Some(a), Some(b)) if a.store_id == b.store_id && a.placed_at_ms == b.placed_at_ms => {
            (None, None)
        }
        (a, b) => (a.cloned(), b.cloned()),
    }
}

/// Turns a submission into "retract previous, apply new", so that consumers
/// never have to read the old version themselves.
pub fn decide(stored: Option<&Stored>, incoming: ValidOrder) -> Decision {
    let incoming = incoming.into_inner();
    if let Some(s) = stored
        && s.order == incoming
    {
        return Decision::Unchanged {
            revision: s.revision,
        };
    }
    let live = is_live(&incoming);
    let previous = stored.filter(|s| s.live).map(|s| s.order.clone());
    let revision = stored.map_or(0, |s| s.revision);
    let (previous_refunded, refunded) = refund_change(stored.map(|s| &s.order), &incoming);
    if previous.is_none() && !live && previous_refunded.is_none() && refunded.is_none() {
        // Cancelling an order nobody counted changes no figure.
        return Decision::Accept {
            stored: Stored {
                revision,
                order: incoming,
                live,
            },
            event: None,
        };
    }
    let event = OrderEvent {
        order_id: incoming.order_id.clone(),
        revision: revision + 1,
        order: live.then(|| incoming.clone()),
        previous,
        refunded,
        previous_refunded,
    };
    Decision::Accept {
        stored: Stored {
            revision: revision + 1,
            order: incoming,
            live,
        },
        event: Some(event),
    }
}
