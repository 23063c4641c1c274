//! The summary's groups of orders rather than of stores or customers: by
//! channel and by hour band, from the hour and channel each row of the
//! customer book is tagged with.

use portrait_core::memory::Tag;
use portrait_proto::v1::{Channel, HourBand, SummaryDimension};

use crate::customer::hour_band;
use crate::projection::order_tags::hour_channel;
use crate::summary::Keys;

/// Chinese names of the channels, in enum order from 1.
pub(crate) const CHANNEL_LABELS: [&str; 5] = ["微信小程序", "门店收银", "美团", "饿了么", "抖音"];
/// Chinese names of the hour bands, in enum order from 1.
pub(crate) const BAND_LABELS: [&str; 5] = ["早餐", "午餐", "下午茶", "晚餐", "夜宵"];

/// (key, label) of group `g` (1-based enum value) of a dimension.
pub(crate) fn key_of(dimension: SummaryDimension, g: i32) -> Option<(String, String)> {
    let label = |labels: &[&str; 5]| {
        usize::try_from(g - 1)
            .ok()
            .and_then(|i| labels.get(i))
            .map(|l| (*l).to_owned())
    };
    match dimension {
        SummaryDimension::Channel => {
            let c = Channel::try_from(g)
                .ok()
                .filter(|c| *c != Channel::Unspecified)?;
            Some((c.as_str_name().to_owned(), label(&CHANNEL_LABELS)?))
        }
        SummaryDimension::HourBand => {
            let b = HourBand::try_from(g)
                .ok()
                .filter(|b| *b != HourBand::Unspecified)?;
            Some((b.as_str_name().to_owned(), label(&BAND_LABELS)?))
        }
        _ => None,
    }
}

/// The summary's groups by channel or hour band, all five, in enum order:
/// group `g` (enum value) is index `g − 1`.
pub(crate) fn order_keys(dimension: SummaryDimension, keys: &mut Keys) {
    for g in 1..=5 {
        if let Some((key, label)) = key_of(dimension, g) {
            keys.insert((key, label, String::new()), (g - 1) as usize);
        }
    }
}

/// The index in [`order_keys`] of orders with `tag`: their channel, or the
/// band of their hour (the bounds of `BAND_HOURS`; every other hour is late
/// night). `None` for orders with neither (none pass validation).
pub(crate) fn order_group(dimension: SummaryDimension, tag: Tag) -> Option<usize> {
    let (hour, channel) = hour_channel(tag)?;
    let g = if dimension == SummaryDimension::Channel {
        channel
    } else {
        hour_band(hour) as i32
    };
    usize::try_from(g - 1).ok().filter(|i| *i < 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_named_by_their_enum() {
        let k = |d, g| key_of(d, g).map(|(k, l)| format!("{k} {l}"));
        assert_eq!(
            k(SummaryDimension::Channel, 2).as_deref(),
            Some("CHANNEL_POS 门店收银")
        );
        assert_eq!(
            k(SummaryDimension::HourBand, 5).as_deref(),
            Some("HOUR_BAND_LATE_NIGHT 夜宵")
        );
        assert_eq!(k(SummaryDimension::Channel, 0), None);
        assert_eq!(k(SummaryDimension::HourBand, 6), None);
    }

    #[test]
    fn orders_fall_in_their_channel_or_hour_band() {
        use crate::projection::order_tags::tag;
        let (channel, band) = (SummaryDimension::Channel, SummaryDimension::HourBand);
        assert_eq!(order_group(channel, tag(12, Channel::Pos as i32)), Some(1));
        assert_eq!(order_group(channel, tag(12, 0)), None);
        assert_eq!(order_group(channel, tag(12, 6)), None);
        for (hour, want) in [
            (5, 5),
            (6, 1),
            (9, 1),
            (10, 2),
            (14, 3),
            (16, 3),
            (17, 4),
            (20, 4),
            (21, 5),
            (0, 5),
        ] {
            assert_eq!(
                order_group(band, tag(hour, 1)),
                Some(want - 1),
                "hour {hour}"
            );
        }
        assert_eq!(order_group(band, Tag::UNKNOWN), None);
        let mut keys = Keys::new();
        order_keys(band, &mut keys);
        let names: Vec<_> = keys.iter().map(|((k, _, _), i)| (k.as_str(), *i)).collect();
        assert!(names.contains(&("HOUR_BAND_BREAKFAST", 0)));
        assert!(names.contains(&("HOUR_BAND_LATE_NIGHT", 4)));
        assert_eq!(names.len(), 5);
    }
}
