//! `portrait query adopt | dismiss | effect | adopted | members`: the
//! suggestion loop's calls.

use crate::token::ClientChannel as Channel;
use anyhow::Context;
use clap::{Args, ValueEnum};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{
    AdoptSuggestionRequest, DismissSuggestionRequest, EffectGroup, GetSuggestionEffectRequest,
    ListAdoptedSuggestionsRequest, ListSuggestionMembersRequest,
};

use super::{QueryArgs, What, to_json};

#[derive(Args)]
pub(crate) struct EffectArgs {
    /// Adopt: the share of the audience held out, 0-50 (default 10).
    #[arg(long)]
    control_percent: Option<i32>,
    /// Adopt: the days tracked from today on, 1-365 (default 30).
    #[arg(long)]
    tracking_days: Option<i32>,
    /// Members: one group only.
    #[arg(long, value_enum)]
    group: Option<GroupArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum GroupArg {
    Treated,
    Control,
}

pub(super) async fn run(
    client: &mut PortraitServiceClient<Channel>,
    args: &QueryArgs,
) -> anyhow::Result<String> {
    let id = || {
        args.id
            .clone()
            .context("this query needs a suggestion id: portrait query adopt ID")
    };
    let e = &args.effect;
    match args.what {
        What::Adopt => to_json(
            client
                .adopt_suggestion(AdoptSuggestionRequest {
                    id: id()?,
                    control_percent: e.control_percent,
                    window_days: e.tracking_days,
                    filter: None,
                })
                .await,
        ),
        What::Dismiss => to_json(
            client
                .dismiss_suggestion(DismissSuggestionRequest { id: id()? })
                .await,
        ),
        What::Effect => to_json(
            client
                .get_suggestion_effect(GetSuggestionEffectRequest { id: id()? })
                .await,
        ),
        What::Members => to_json(
            client
                .list_suggestion_members(ListSuggestionMembersRequest {
                    id: id()?,
                    group: match e.group {
                        None => EffectGroup::Unspecified,
                        Some(GroupArg::Treated) => EffectGroup::Treated,
                        Some(GroupArg::Control) => EffectGroup::Control,
                    } as i32,
                    page_size: args.limit.max(0),
                    page_token: String::new(),
                })
                .await,
        ),
        _ => to_json(
            client
                .list_adopted_suggestions(ListAdoptedSuggestionsRequest {})
                .await,
        ),
    }
}
