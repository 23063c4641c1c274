//! The one policy table: every rpc of every service and the least role that
//! may call it, with what a store- or city-scoped token gets. A unit test
//! walks the proto descriptors, so an rpc missing here fails the build's
//! tests instead of being open (or closed) by accident.

use crate::Role;

/// What a token limited to some stores or cities gets from an rpc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeRule {
    /// The gateway narrows the request's `filter` to the scope.
    Narrowed,
    /// The answer is about the whole chain (or one customer across it) and
    /// cannot be narrowed honestly: PERMISSION_DENIED for scoped tokens.
    WholeChain,
    /// The answer holds no figures of any store: open to scoped tokens.
    Free,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub least: Role,
    pub scope: ScopeRule,
}

use Role::{Admin, Analyst, Service, Viewer};
use ScopeRule::{Free, Narrowed, WholeChain};

const fn r(least: Role, scope: ScopeRule) -> Rule {
    Rule { least, scope }
}

const GW: &str = "/portrait.v1.PortraitService/";

/// `(path, rule)`; the public API first, then the internal services, which
/// only the service token (or an admin) may call.
pub const POLICY: &[(&str, Rule)] = &[
    // aggregates and suggestions: viewer
    (
        "/portrait.v1.PortraitService/GetOverview",
        r(Viewer, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/GetSegmentDistribution",
        r(Viewer, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/GetHourDistribution",
        r(Viewer, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/GetChannelDistribution",
        r(Viewer, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/GetTopProducts",
        r(Viewer, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/GetTopCategories",
        r(Viewer, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/ListSuggestions",
        r(Viewer, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/GetPortraitSummary",
        r(Viewer, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/ListAnomalies",
        r(Viewer, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/GetAssociations",
        r(Viewer, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/GetGroupPatterns",
        r(Viewer, Narrowed),
    ),
    // store names and cities, and the stack's state: no figures
    ("/portrait.v1.PortraitService/ListStores", r(Viewer, Free)),
    (
        "/portrait.v1.PortraitService/GetSyncStatus",
        r(Viewer, Free),
    ),
    // chain-wide aggregates
    (
        "/portrait.v1.PortraitService/GetClusters",
        r(Viewer, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/GetModelFit",
        r(Viewer, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/GetSegmentFlows",
        r(Viewer, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/GetSyncJob",
        r(Viewer, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/ListSyncJobs",
        r(Viewer, WholeChain),
    ),
    // adoptions freeze a chain-wide audience
    (
        "/portrait.v1.PortraitService/ListAdoptedSuggestions",
        r(Viewer, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/GetSuggestionEffect",
        r(Viewer, WholeChain),
    ),
    // customer lists and details: analyst
    ("/portrait.v1.PortraitService/ListRfm", r(Analyst, Narrowed)),
    (
        "/portrait.v1.PortraitService/ListCustomers",
        r(Analyst, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/ListSuggestionAudience",
        r(Analyst, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/ListCustomerDays",
        r(Analyst, Narrowed),
    ),
    (
        "/portrait.v1.PortraitService/GetCustomerPreferences",
        r(Analyst, Narrowed),
    ),
    // one customer across the chain (segment, model scores): not narrowable
    (
        "/portrait.v1.PortraitService/GetCustomer",
        r(Analyst, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/GetCustomerModel",
        r(Analyst, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/FindCustomer",
        r(Analyst, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/ListSuggestionMembers",
        r(Analyst, WholeChain),
    ),
    // the source's rows behind a job's findings
    (
        "/portrait.v1.PortraitService/GetDataQualityReport",
        r(Analyst, WholeChain),
    ),
    // actions: admin
    (
        "/portrait.v1.PortraitService/TriggerSync",
        r(Admin, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/ImportOrders",
        r(Admin, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/AdoptSuggestion",
        r(Admin, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/DismissSuggestion",
        r(Admin, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/RecomputeClusters",
        r(Admin, WholeChain),
    ),
    (
        "/portrait.v1.PortraitService/RefitModels",
        r(Admin, WholeChain),
    ),
    // who was refused, and every admin action
    (
        "/portrait.v1.PortraitService/ListAuditEvents",
        r(Admin, WholeChain),
    ),
    // PII: the plain values behind a customer id (audited with the id)
    (
        "/portrait.v1.PortraitService/RevealCustomer",
        r(Admin, WholeChain),
    ),
    // internal: order publishers, the gateway, the services among themselves,
    // `portrait rebuild` (with an admin token)
    (
        "/portrait.v1.IngestService/SubmitOrder",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.IngestService/SubmitOrders",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.IngestService/SubmitOrderBatch",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.IngestService/GetIngestStatus",
        r(Service, WholeChain),
    ),
    ("/portrait.v1.IngestAdmin/Republish", r(Service, WholeChain)),
    ("/portrait.v1.ConsumerAdmin/Rebuild", r(Service, WholeChain)),
    (
        "/portrait.v1.ProfilerQuery/GetOverview",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetHourDistribution",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetChannelDistribution",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetTopProducts",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetTopCategories",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/ListStores",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetStatus",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetCustomerBehaviour",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/ListCustomerDays",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetCustomerPreferences",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/ListAnomalies",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetPortraitSummary",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetClusters",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/RecomputeClusters",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetAssociations",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/ExportCustomerLabels",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetGroupPatterns",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.ProfilerQuery/GetCrossSell",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.RfmQuery/GetSegmentDistribution",
        r(Service, WholeChain),
    ),
    ("/portrait.v1.RfmQuery/ListRfm", r(Service, WholeChain)),
    (
        "/portrait.v1.RfmQuery/GetCustomerRfm",
        r(Service, WholeChain),
    ),
    ("/portrait.v1.RfmQuery/GetStatus", r(Service, WholeChain)),
    (
        "/portrait.v1.SuggestQuery/ListSuggestions",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/GetStatus",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/GetModelFit",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/RefitModels",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/GetCustomerModel",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/ListCustomers",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/ExportCustomerScores",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/ListSuggestionAudience",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/AdoptSuggestion",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/DismissSuggestion",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/GetSuggestionEffect",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/ListAdoptedSuggestions",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SuggestQuery/ListSuggestionMembers",
        r(Service, WholeChain),
    ),
    (
        "/portrait.v1.SegmentFlowsQuery/GetSegmentFlows",
        r(Service, WholeChain),
    ),
    // each service's own audit log, merged by the gateway's ListAuditEvents
    (
        "/portrait.v1.AuditAdmin/ListServiceAuditEvents",
        r(Service, WholeChain),
    ),
    // who the token is: any role, any scope
    ("/portrait.v1.PortraitService/GetCaller", r(Viewer, Free)),
];

/// The rule of `path`, `/portrait.v1.X/Method`; None for a path in no table.
pub fn rule(path: &str) -> Option<Rule> {
    POLICY
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, rule)| *rule)
}

/// The public rpc `method` of `PortraitService` as its path.
pub fn gateway_path(method: &str) -> String {
    format!("{GW}{method}")
}

/// The internal rpcs that change what a service holds or answers: like the
/// public admin actions, each is written to the serving service's audit log
/// before it runs, whoever calls it (the gateway forwarding an admin's action
/// with the service token, or `portrait rebuild` with an admin token).
pub const INTERNAL_ACTIONS: &[&str] = &[
    "/portrait.v1.IngestAdmin/Republish",
    "/portrait.v1.ConsumerAdmin/Rebuild",
    "/portrait.v1.ProfilerQuery/RecomputeClusters",
    "/portrait.v1.SuggestQuery/RefitModels",
    "/portrait.v1.SuggestQuery/AdoptSuggestion",
    "/portrait.v1.SuggestQuery/DismissSuggestion",
];

/// Whether an allowed call of `path` under `rule` is an action the audit log
/// records before it runs.
pub fn is_audited_action(path: &str, rule: Rule) -> bool {
    rule.least == Role::Admin || INTERNAL_ACTIONS.contains(&path)
}
