use anyhow::Context;
use clap::{Args, ValueEnum};
use portrait_proto::v1::portrait_service_client::PortraitServiceClient;
use portrait_proto::v1::{AssociationBasis, AssociationOrder, AssociationsRequest};
use portrait_proto::v1::{
    ChannelDistributionRequest, Filter, HourDistributionRequest, ListRfmRequest, ListStoresRequest,
    ListSuggestionsRequest, OverviewRequest, ProductOrder, SegmentDistributionRequest,
    SyncStatusRequest, TopCategoriesRequest, TopProductsRequest,
};

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
    /// Product pairs bought together (all history; no dates).
    Associations,
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

#[derive(Args)]
pub(crate) struct QueryArgs {
    what: What,
    /// The gateway's address.
    #[arg(
        long,
        default_value = "http://127.0.0.1:50051",
        env = "PORTRAIT_GATEWAY"
    )]
    gateway: String,
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
}

pub(crate) async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let mut client = PortraitServiceClient::connect(args.gateway.clone())
        .await
        .with_context(|| format!("failed to connect to the gateway at {}", args.gateway))?;
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
                .get_segment_distribution(SegmentDistributionRequest { filter })
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
        What::Rfm => to_json(
            client
                .list_rfm(ListRfmRequest {
                    filter,
                    page_size: args.limit,
                    page_token: String::new(),
                    ..Default::default()
                })
                .await,
        ),
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
    }?;
    println!("{json}");
    Ok(())
}

fn to_json<T: serde::Serialize>(
    r: Result<tonic::Response<T>, tonic::Status>,
) -> anyhow::Result<String> {
    let body = r.map_err(|s| anyhow::anyhow!("{:?}: {}", s.code(), s.message()))?;
    serde_json::to_string_pretty(body.get_ref()).context("failed to render the answer as json")
}
