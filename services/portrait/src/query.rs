use anyhow::Context;
use clap::{Args, ValueEnum};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{AssociationBasis, AssociationOrder, AssociationsRequest, Channel};
use portrait_proto::v1::{
    ChannelDistributionRequest, CustomerOrder, CustomerPreferencesRequest, Filter,
    GetCustomerRequest, HourDistributionRequest, ListAnomaliesRequest, ListCustomerDaysRequest,
    ListCustomersRequest, ListStoresRequest, ListSuggestionsRequest, OverviewRequest,
    PortraitSummaryRequest, ProductOrder, SummaryDimension, SyncStatusRequest,
    TopCategoriesRequest, TopProductsRequest,
};
use portrait_proto::v1::{
    GetClustersRequest, GetCustomerModelRequest, GetModelFitRequest, RecomputeClustersRequest,
    RefitModelsRequest,
};

mod effect;
mod rfm;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum What {
    Overview,
    Segments,
    Hours,
    Channels,
    Products,
    Categories,
    Rfm,
    Suggestions,
    Stores,
    Status,
    /// One customer's portrait (needs ID).
    Customer,
    /// One customer's days, newest first (needs ID).
    CustomerDays,
    /// One customer's product and category preferences (needs ID).
    Preferences,
    /// Stores' days far from their recent days (every judged day with --min-score 0.001).
    Anomalies,
    /// Customers per city (or per store with --by-store): the drill-down.
    Summary,
    /// The customer models in service and the latest fit attempt.
    ModelFit,
    /// Refit the customer models now (as of --as-of, default today).
    RefitModels,
    /// One customer's model figures: customer-model ID.
    CustomerModel,
    /// The customers of the filter, by --order-by; ID = an id prefix to search.
    Customers,
    /// The customer clusters in service.
    Clusters,
    /// Compute the customer clusters now (as of --as-of, default today).
    RecomputeClusters,
    /// Product pairs bought together (all history; no dates).
    Associations,
    /// Hours, weekdays, channels and top items per RFM segment (or --by cluster).
    Patterns,
    /// The customers of one suggestion, by spend: suggestion-audience ID (a suggestion's id).
    SuggestionAudience,
    /// Adopt suggestion ID: freeze its audience, hold out --control-percent.
    Adopt,
    /// Dismiss suggestion ID.
    Dismiss,
    /// The effect of adopted suggestion ID: treated vs control, lift, realised vs expected.
    Effect,
    /// The adopted and dismissed suggestions, newest first.
    Adopted,
    /// The frozen audience of adopted suggestion ID (--group control: who not to contact).
    Members,
    /// Segment transitions per day, from → to (--from, --to: days of the transitions).
    SegmentFlows,
    /// Refused requests and admin actions, newest first (admin; --limit, ID = a page token).
    Audit,
    /// The plain open id, member id and phone behind customer ID (admin; audited).
    Reveal,
    /// Who the token is: subject, role and scope.
    Caller,
}

/// How `summary` and `patterns` group.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum By {
    City,
    Store,
    Segment,
    Cluster,
    Channel,
    HourBand,
}

impl By {
    fn dimension(self) -> SummaryDimension {
        match self {
            By::City => SummaryDimension::City,
            By::Store => SummaryDimension::Store,
            By::Segment => SummaryDimension::Segment,
            By::Cluster => SummaryDimension::Cluster,
            By::Channel => SummaryDimension::Channel,
            By::HourBand => SummaryDimension::HourBand,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Basis {
    Basket,
    Customer,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum RankBy {
    Lift,
    Confidence,
    Support,
}

/// How `customers` and `rfm` sort.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ListOrder {
    Spend,
    Recency,
    Frequency,
    Clv,
    Alive,
    Id,
    /// rfm only: r + f + m scores.
    Score,
}

#[derive(Args)]
pub(crate) struct QueryArgs {
    what: What,
    /// The customer id, for customer, customer-days, preferences and customer-model; the
    /// suggestion id for suggestion-audience.
    id: Option<String>,
    #[command(flatten)]
    pub(crate) reach: crate::token::GatewayArgs,
    /// Only these stores (repeatable).
    #[arg(long = "store")]
    stores: Vec<String>,
    /// Only stores in these cities (repeatable).
    #[arg(long = "city")]
    cities: Vec<String>,
    /// First day included, YYYY-MM-DD.
    #[arg(long)]
    from: Option<String>,
    /// First day excluded, YYYY-MM-DD.
    #[arg(long)]
    to: Option<String>,
    /// Analyse as of this day, YYYY-MM-DD (default: today).
    #[arg(long)]
    as_of: Option<String>,
    /// Rows for products, categories, rfm and suggestions.
    #[arg(long, default_value_t = 10)]
    limit: i32,
    /// Rank products and categories by revenue instead of quantity.
    #[arg(long)]
    by_revenue: bool,
    /// Customers and rfm: the order of the list (default: customers by spend, rfm by id).
    #[arg(long, value_enum)]
    order_by: Option<ListOrder>,
    /// Customers: only those with a churn warning.
    #[arg(long)]
    at_risk: bool,
    /// Summary: one group per store instead of per city.
    #[arg(long)]
    by_store: bool,
    /// Anomalies: the least |robust z| listed (default 3.5).
    #[arg(long, default_value_t = 0.0)]
    min_score: f64,
    #[command(flatten)]
    rfm: rfm::RfmArgs,
    /// Associations: counted over baskets (orders) or customers.
    #[arg(long, value_enum, default_value_t = Basis::Basket)]
    basis: Basis,
    /// Associations: the smallest support, a share between 0 and 1.
    #[arg(long, default_value_t = 0.0)]
    min_support: f64,
    /// Associations: the smallest number of baskets with both products.
    #[arg(long, default_value_t = 0)]
    min_count: i64,
    /// Associations: the measure to rank by.
    #[arg(long, value_enum, default_value_t = RankBy::Lift)]
    rank_by: RankBy,
    /// Customers: only this cluster (GetClusters' number).
    #[arg(long, default_value_t = 0)]
    cluster: i32,
    /// Customers: only those whose main channel is this one.
    #[arg(long, value_enum)]
    main_channel: Option<MainChannel>,
    /// Summary (default city, or store with --by-store) and patterns (default
    /// segment): the groups.
    #[arg(long, value_enum)]
    by: Option<By>,
    /// Patterns: only this group (a segment's enum name or a cluster number).
    #[arg(long)]
    key: Option<String>,
    /// Patterns: hours, weekdays and channels only, without the categories
    /// and products (answered from memory; the items read the tables).
    #[arg(long)]
    without_items: bool,
    /// Anomalies: one kind only (default every kind).
    #[arg(long, value_enum, default_value_t = AnomalyKindArg::All)]
    kind: AnomalyKindArg,
    #[command(flatten)]
    effect: effect::EffectArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum MainChannel {
    WechatMini,
    Pos,
    Meituan,
    Eleme,
    Douyin,
}

impl From<MainChannel> for Channel {
    fn from(c: MainChannel) -> Self {
        match c {
            MainChannel::WechatMini => Channel::WechatMini,
            MainChannel::Pos => Channel::Pos,
            MainChannel::Meituan => Channel::Meituan,
            MainChannel::Eleme => Channel::Eleme,
            MainChannel::Douyin => Channel::Douyin,
        }
    }
}

pub(crate) async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let channel = crate::token::endpoint(&args.reach)?
        .connect()
        .await
        .with_context(|| format!("failed to connect to the gateway at {}", args.reach.gateway))?;
    let mut client = PortraitServiceClient::new(crate::token::authed(channel, &args.reach.token)?);
    let filter = Some(Filter {
        store_ids: args.stores.clone(),
        cities: args.cities.clone(),
        from_date: args.from.clone().unwrap_or_default(),
        to_date: args.to.clone().unwrap_or_default(),
        as_of_date: args.as_of.clone().unwrap_or_default(),
    });
    let order_by = if args.by_revenue {
        ProductOrder::Revenue
    } else {
        ProductOrder::Quantity
    } as i32;
    let json = match args.what {
        What::Overview => to_json(client.get_overview(OverviewRequest { filter }).await),
        What::Segments => to_json(
            client
                .get_segment_distribution(args.rfm.segments(filter))
                .await,
        ),
        What::Hours => to_json(
            client
                .get_hour_distribution(HourDistributionRequest { filter })
                .await,
        ),
        What::Channels => to_json(
            client
                .get_channel_distribution(ChannelDistributionRequest { filter })
                .await,
        ),
        What::Products => to_json(
            client
                .get_top_products(TopProductsRequest {
                    filter,
                    limit: args.limit,
                    order_by,
                })
                .await,
        ),
        What::Categories => to_json(
            client
                .get_top_categories(TopCategoriesRequest {
                    filter,
                    limit: args.limit,
                    order_by,
                })
                .await,
        ),
        What::Rfm => {
            let request = args.rfm.list(filter, args.limit, args.order_by)?;
            to_json(client.list_rfm(request).await)
        }
        What::Suggestions => to_json(
            client
                .list_suggestions(ListSuggestionsRequest {
                    filter,
                    page_size: args.limit,
                    ..Default::default()
                })
                .await,
        ),
        What::Stores => to_json(client.list_stores(ListStoresRequest {}).await),
        What::Status => to_json(client.get_sync_status(SyncStatusRequest {}).await),
        What::Customer => to_json(
            client
                .get_customer(GetCustomerRequest {
                    customer_id: customer_id(&args)?,
                    filter,
                })
                .await,
        ),
        What::CustomerDays => to_json(
            client
                .list_customer_days(ListCustomerDaysRequest {
                    customer_id: customer_id(&args)?,
                    filter,
                    page_size: args.limit,
                    page_token: String::new(),
                })
                .await,
        ),
        What::Anomalies => to_json(
            client
                .list_anomalies(ListAnomaliesRequest {
                    filter,
                    page_size: args.limit,
                    min_score: args.min_score,
                    kind: args.kind.proto() as i32,
                    ..Default::default()
                })
                .await,
        ),
        What::Summary => to_json(
            client
                .get_portrait_summary(PortraitSummaryRequest {
                    filter,
                    dimension: match (args.by, args.by_store) {
                        (Some(by), _) => by.dimension(),
                        (None, true) => SummaryDimension::Store,
                        (None, false) => SummaryDimension::City,
                    } as i32,
                })
                .await,
        ),
        What::Preferences => to_json(
            client
                .get_customer_preferences(CustomerPreferencesRequest {
                    customer_id: customer_id(&args)?,
                    filter,
                    limit: args.limit,
                })
                .await,
        ),
        What::ModelFit => to_json(client.get_model_fit(GetModelFitRequest {}).await),
        What::RefitModels => to_json(
            client
                .refit_models(RefitModelsRequest {
                    as_of_date: args.as_of.clone().unwrap_or_default(),
                })
                .await,
        ),
        What::Customers => to_json(
            client
                .list_customers(ListCustomersRequest {
                    filter,
                    order_by: match args.order_by.unwrap_or(ListOrder::Spend) {
                        ListOrder::Score => {
                            anyhow::bail!("--order-by score orders rfm, not customers")
                        }
                        ListOrder::Spend => CustomerOrder::Spend,
                        ListOrder::Recency => CustomerOrder::Recency,
                        ListOrder::Frequency => CustomerOrder::Frequency,
                        ListOrder::Clv => CustomerOrder::PredictedClv,
                        ListOrder::Alive => CustomerOrder::AliveProbability,
                        ListOrder::Id => CustomerOrder::CustomerId,
                    } as i32,
                    at_risk: args.at_risk,
                    id_prefix: args.id.clone().unwrap_or_default(),
                    page_size: args.limit,
                    cluster: args.cluster,
                    main_channel: args.main_channel.map_or(0, |c| Channel::from(c) as i32),
                    ..Default::default()
                })
                .await,
        ),
        What::Clusters => to_json(client.get_clusters(GetClustersRequest {}).await),
        What::RecomputeClusters => to_json(
            client
                .recompute_clusters(RecomputeClustersRequest {
                    as_of_date: args.as_of.clone().unwrap_or_default(),
                })
                .await,
        ),
        What::CustomerModel => to_json(
            client
                .get_customer_model(GetCustomerModelRequest {
                    customer_id: customer_id(&args)?,
                })
                .await,
        ),
        What::Associations => to_json(
            client
                .get_associations(AssociationsRequest {
                    filter,
                    basis: match args.basis {
                        Basis::Basket => AssociationBasis::Basket,
                        Basis::Customer => AssociationBasis::Customer,
                    } as i32,
                    min_support: args.min_support,
                    min_count: args.min_count,
                    limit: args.limit,
                    order_by: match args.rank_by {
                        RankBy::Lift => AssociationOrder::Lift,
                        RankBy::Confidence => AssociationOrder::Confidence,
                        RankBy::Support => AssociationOrder::Support,
                    } as i32,
                })
                .await,
        ),
        What::Patterns => to_json(
            client
                .get_group_patterns(portrait_proto::v1::GroupPatternsRequest {
                    filter,
                    dimension: args.by.unwrap_or(By::Segment).dimension() as i32,
                    key: args.key.clone().unwrap_or_default(),
                    limit: args.limit,
                    without_items: args.without_items,
                })
                .await,
        ),
        What::SuggestionAudience => to_json(
            client
                .list_suggestion_audience(portrait_proto::v1::ListSuggestionAudienceRequest {
                    suggestion_id: args.id.clone().context(
                        "this query needs a suggestion id: portrait query suggestion-audience ID",
                    )?,
                    filter,
                    page_size: args.limit,
                    page_token: String::new(),
                })
                .await,
        ),
        What::Adopt | What::Dismiss | What::Effect | What::Adopted | What::Members => {
            effect::run(&mut client, &args).await
        }
        What::SegmentFlows => to_json(
            client
                .get_segment_flows(portrait_proto::v1::SegmentFlowsRequest {
                    from_date: args.from.clone().unwrap_or_default(),
                    to_date: args.to.clone().unwrap_or_default(),
                })
                .await,
        ),
        What::Audit => to_json(
            client
                .list_audit_events(portrait_proto::v1::ListAuditEventsRequest {
                    page_size: args.limit,
                    page_token: args.id.clone().unwrap_or_default(),
                })
                .await,
        ),
        What::Reveal => to_json(
            client
                .reveal_customer(portrait_proto::v1::RevealCustomerRequest {
                    customer_id: customer_id(&args)?,
                })
                .await,
        ),
        What::Caller => to_json(
            client
                .get_caller(portrait_proto::v1::GetCallerRequest {})
                .await,
        ),
    }?;
    println!("{json}");
    Ok(())
}

fn customer_id(args: &QueryArgs) -> anyhow::Result<String> {
    args.id
        .clone()
        .context("this query needs a customer id: portrait query customer ID")
}

fn to_json<T: serde::Serialize>(
    r: Result<tonic::Response<T>, tonic::Status>,
) -> anyhow::Result<String> {
    let body = r.map_err(|s| {
        let hint = if s.code() == tonic::Code::Unauthenticated {
            " (pass --token or set PORTRAIT_TOKEN; `portrait run` prints a token)"
        } else {
            ""
        };
        anyhow::anyhow!("{:?}: {}{hint}", s.code(), s.message())
    })?;
    serde_json::to_string_pretty(body.get_ref()).context("failed to render the answer as json")
}

/// `query anomalies --kind`: the `AnomalyKind` listed.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum AnomalyKindArg {
    All,
    StoreOrders,
    StoreRevenue,
    RefundRate,
    CustomerOrder,
}

impl AnomalyKindArg {
    fn proto(self) -> portrait_proto::v1::AnomalyKind {
        use portrait_proto::v1::AnomalyKind as K;
        match self {
            AnomalyKindArg::All => K::Unspecified,
            AnomalyKindArg::StoreOrders => K::StoreOrders,
            AnomalyKindArg::StoreRevenue => K::StoreRevenue,
            AnomalyKindArg::RefundRate => K::RefundRate,
            AnomalyKindArg::CustomerOrder => K::CustomerOrder,
        }
    }
}
