//! The test's chain: the synthetic chain's orders kept inside lives drawn as BG/NBD assumes
//! (see the test's doc), fed through the in-process stack.

use std::collections::BTreeMap;

use portrait_proto::v1::ingest_service_client::IngestServiceClient;
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{Order, SubmitOrderBatchRequest, SyncStatusRequest};
use portrait_synth::ChainSpec;
use tokio_util::sync::CancellationToken;

use crate::{local_day, support};

/// A uniform number in [0, 1) fixed by (`key`, `salt`) (splitmix64).
fn uniform(key: &str, salt: u64) -> f64 {
    let mut z = key
        .bytes()
        .fold(salt.wrapping_mul(0x9e37_79b9_7f4a_7c15), |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1_u64 << 53) as f64
}

/// The submissions of the orders placed inside their customer's life (see the module's doc).
fn with_lives(submitted: Vec<Order>, spec: &ChainSpec) -> Vec<Order> {
    const DAY_MS: i64 = 86_400_000;
    let day_of = |o: &Order| (o.placed_at_ms - spec.start_midnight_ms()).div_euclid(DAY_MS);
    // An order's day is that of its first submission (a changed re-send keeps it anyway).
    let mut first: BTreeMap<&str, (&str, i64)> = BTreeMap::new();
    for o in &submitted {
        first
            .entry(&o.order_id)
            .or_insert((&o.customer_id, day_of(o)));
    }
    let mut days_of: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for &(customer, day) in first.values() {
        days_of.entry(customer).or_default().push(day);
    }
    // customer -> (first, last) day of their life
    let mut life: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (customer, days) in &mut days_of {
        days.sort_unstable();
        days.dedup();
        let born = (uniform(customer, 1) * f64::from(spec.days) * 0.7) as i64;
        let drop = 1.0 - (1.0 - uniform(customer, 2)).powf(1.0 / 3.0);
        let lived: Vec<i64> = days.iter().copied().filter(|d| *d >= born).collect();
        let Some(&start) = lived.first() else {
            continue;
        };
        let mut end = lived[lived.len() - 1];
        for (k, day) in lived.iter().enumerate() {
            if uniform(customer, 3 + k as u64) < drop {
                end = *day;
                break;
            }
        }
        life.insert(customer, (start, end));
    }
    let keep = |o: &Order| {
        let (customer, day) = first[o.order_id.as_str()];
        customer.is_empty()
            || life
                .get(customer)
                .is_some_and(|(from, to)| *from <= day && day <= *to)
    };
    let kept: Vec<bool> = submitted.iter().map(keep).collect();
    submitted
        .into_iter()
        .zip(kept)
        .filter_map(|(o, k)| k.then_some(o))
        .collect()
}

pub(crate) struct Fed {
    pub(crate) stack: portrait::embedded::Stack,
    pub(crate) shutdown: CancellationToken,
    pub(crate) as_of: String,
    pub(crate) orders: Vec<Order>,
    _dir: tempfile::TempDir,
}

/// The in-process stack fed `spec`'s chain with lives, caught up.
pub(crate) async fn fed(spec: &ChainSpec) -> Fed {
    let dir = tempfile::tempdir().expect("dir");
    let shutdown = CancellationToken::new();
    let stack = portrait::embedded::spawn_stack(dir.path(), shutdown.clone())
        .await
        .expect("stack");
    let (_, submitted) = portrait_synth::generate(spec);
    let submitted = with_lives(submitted, spec);
    let mut ingest = IngestServiceClient::new(support::channel(stack.ingest_addr).await);
    for chunk in submitted.chunks(500) {
        let batch = SubmitOrderBatchRequest {
            orders: chunk.to_vec(),
        };
        ingest.submit_order_batch(batch).await.expect("accepted");
    }
    let mut gateway = PortraitServiceClient::new(support::channel(stack.gateway_addr).await);
    let mut caught_up = false;
    for _ in 0..1200 {
        let s = gateway.get_sync_status(SyncStatusRequest {}).await;
        if s.expect("status").get_ref().caught_up {
            caught_up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(caught_up, "the stack did not catch up");
    let orders = portrait_synth::accepted(&submitted);
    let last = orders.iter().map(|o| o.placed_at_ms).max().expect("orders");
    Fed {
        stack,
        shutdown,
        as_of: local_day(last),
        orders,
        _dir: dir,
    }
}
