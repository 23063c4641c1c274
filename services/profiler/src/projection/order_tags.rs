//! The profiler's customer book is tagged with each row's local hour and
//! channel (`portrait_core::memory::Tag`), so that figures by hour, hour band
//! or channel over groups of customers are a pass over memory. It is loaded
//! from `customer_orders` (a row per order version), whose rows of one
//! (customer, store, day) sum to that `customer_days` row.

use portrait_core::memory::{CustomerState, Tag};
use portrait_service::Result;
use portrait_store::{Key, ScanRow, TagOf, load_customer_state};

use super::visits::ORDER_KEYS;
use super::{stored_channel, stored_hour};
use sqlx::AnyPool;

/// Channels fit 3 bits (validation allows 1 to 5).
const CHANNEL_BITS: u32 = 3;

/// The tag of orders placed at local `hour` through `channel`:
/// `hour * 8 + channel`. Anything validation rules out is `Tag::UNKNOWN`,
/// counted in totals but in no hour or channel.
pub(crate) fn tag(hour: u8, channel: i32) -> Tag {
    let channel = u8::try_from(channel)
        .ok()
        .filter(|c| *c < 1 << CHANNEL_BITS);
    match channel {
        Some(c) if hour < 24 => Tag::new((hour << CHANNEL_BITS) | c).unwrap_or(Tag::UNKNOWN),
        _ => Tag::UNKNOWN,
    }
}

/// The (hour, channel) a tag was made of.
pub(crate) fn hour_channel(tag: Tag) -> Option<(u8, i32)> {
    let v = tag.value()?;
    Some((v >> CHANNEL_BITS, i32::from(v & ((1 << CHANNEL_BITS) - 1))))
}

/// The stores and the tagged customer book, from `stores` and
/// `customer_orders`.
pub(crate) async fn load_customers(pool: &AnyPool) -> Result<CustomerState> {
    let keys = [
        Key::Int("day"),
        Key::Text("store_id"),
        Key::Text("customer_id"),
        Key::Text("order_id"),
        Key::Int("hour"),
        Key::Int("channel"),
    ];
    // Every key is read, to page on.
    let columns: Vec<&str> = ORDER_KEYS
        .into_iter()
        .chain(["orders", "revenue"])
        .collect();
    let tag_of = |r: &ScanRow<'_>| {
        let hour = stored_hour(r.int("hour")?)?;
        Ok(tag(hour, stored_channel(r.int("channel")?)?))
    };
    let tag_of: &TagOf = &tag_of;
    let state = load_customer_state(pool, "customer_orders", &keys, &columns, Some(tag_of));
    Ok(state.await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hour_and_channel_round_trips_and_nothing_else_is_tagged() {
        for hour in 0..24 {
            for channel in 0..8 {
                let t = tag(hour, channel);
                assert_ne!(t, Tag::UNKNOWN);
                assert_eq!(hour_channel(t), Some((hour, channel)));
            }
        }
        for (hour, channel) in [(24, 1), (255, 1), (3, 8), (3, -1), (3, 1 << 20)] {
            assert_eq!(tag(hour, channel), Tag::UNKNOWN, "{hour} {channel}");
        }
        assert_eq!(hour_channel(Tag::UNKNOWN), None);
    }
}
