//! The mapping's settings, resolved once from `sync.*` configuration.

use chrono_tz::Tz;
use portrait_proto::v1::Channel;
use portrait_service::SyncSettings;

use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct Rules {
    pub paid_states: Vec<i64>,
    pub tz: Tz,
    /// `takeoutName` substring → channel, tried in key order.
    pub platforms: Vec<(String, Channel)>,
    pub city_suffixes: Vec<String>,
    /// The pseudonym key (`sync.pii_key`, else `sync.phone_key`); `None` = the
    /// sync refuses to map orders (a customer id would carry the raw value).
    pub phone_key: Option<Vec<u8>>,
    /// `sync.pii_encryption_key`; `None` = no reveal copies are kept.
    pub cipher: Option<crate::pii::Cipher>,
    pub max_amount_fen: i64,
    pub mismatch_tolerance_fen: i64,
    pub reject_mismatch: bool,
    pub drop_duplicate_lines: bool,
    pub full_refund_retracts: bool,
    /// What ingest validates (`domain.*`): the mapped order must pass it.
    pub limits: portrait_core::Limits,
}

pub fn channel_named(name: &str) -> Option<Channel> {
    Some(match name {
        "meituan" => Channel::Meituan,
        "eleme" => Channel::Eleme,
        "douyin" => Channel::Douyin,
        "wechat_mini" => Channel::WechatMini,
        "pos" => Channel::Pos,
        _ => return None,
    })
}

impl Rules {
    pub fn new(s: &SyncSettings, limits: portrait_core::Limits) -> Result<Self> {
        let tz = s
            .time_zone
            .parse::<Tz>()
            .map_err(|_| Error::Config(format!("sync.time_zone {:?} is unknown", s.time_zone)))?;
        let platforms = s
            .platforms
            .iter()
            .map(|(k, v)| {
                channel_named(v)
                    .map(|c| (k.trim().to_owned(), c))
                    .ok_or_else(|| {
                        Error::Config(format!("sync.platforms.{k}: unknown channel {v:?}"))
                    })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            paid_states: s.paid_states.clone(),
            tz,
            platforms,
            city_suffixes: s.city_suffixes.clone(),
            phone_key: [&s.pii_key, &s.phone_key]
                .into_iter()
                .find(|k| !k.is_empty())
                .map(|k| k.as_bytes().to_vec()),
            cipher: match s.pii_encryption_key.as_str() {
                "" => None,
                key => Some(crate::pii::Cipher::from_base64(key)?),
            },
            max_amount_fen: s.max_amount_fen,
            mismatch_tolerance_fen: s.mismatch_tolerance_fen,
            reject_mismatch: s.reject_mismatch,
            drop_duplicate_lines: s.drop_duplicate_lines,
            full_refund_retracts: s.full_refund_retracts,
            limits,
        })
    }

    /// The defaults of `portrait_service::Config`, with `phone_key` as given.
    pub fn defaults(phone_key: &str) -> Self {
        let mut s = portrait_service::Config::defaults(portrait_service::ServiceName::Gateway)
            .validated(portrait_service::ServiceName::Gateway)
            .map(|c| (c.sync.clone(), c.limits()))
            .unwrap_or_else(|_| unreachable!("the defaults validate"));
        s.0.phone_key = phone_key.to_owned();
        Self::new(&s.0, s.1).unwrap_or_else(|_| unreachable!("the defaults validate"))
    }
}
