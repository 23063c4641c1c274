//! The bearer token every client command sends (`--token`, `PORTRAIT_TOKEN`).

use anyhow::Context as _;
use clap::Args;
use portrait_service::Bearer;
pub(crate) use portrait_service::BearerChannel as ClientChannel;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// `channel` sending `token` (none when empty).
pub(crate) fn authed(channel: Channel, token: &str) -> anyhow::Result<ClientChannel> {
    let bearer = Bearer::new(token).context("failed to use the token")?;
    Ok(InterceptedService::new(channel, bearer))
}

/// An endpoint for the gateway; `https://` trusts `--ca` (a PEM file; empty =
/// the system's roots) and presents `--tls-cert`/`--tls-key` when given (a gateway that
/// requires client certificates).
pub(crate) fn endpoint(reach: &GatewayArgs) -> anyhow::Result<tonic::transport::Endpoint> {
    let tls = portrait_service::ServerSettings {
        listen: String::new(),
        tls_cert: reach.tls_cert.clone(),
        tls_key: reach.tls_key.clone(),
        tls_ca: reach.ca.clone(),
        tls_client_ca: String::new(),
    };
    tracing::debug!(
        gateway = %reach.gateway,
        ca = %reach.ca,
        client_certificate = !reach.tls_cert.is_empty(),
        "reaching the gateway"
    );
    portrait_service::tls::endpoint("--gateway", &reach.gateway, &tls)
        .context("failed to use --gateway, --ca, --tls-cert and --tls-key")
}

/// How a client command reaches a running gateway.
#[derive(Args, Debug, Clone)]
pub(crate) struct GatewayArgs {
    /// The gateway's URL (`https://` when it serves TLS).
    #[arg(
        long,
        default_value = portrait::hints::DEFAULT_GATEWAY,
        env = "PORTRAIT_GATEWAY"
    )]
    pub(crate) gateway: String,
    /// The bearer token (an API key or a JWT); `portrait run` prints one.
    #[arg(
        long,
        env = "PORTRAIT_TOKEN",
        default_value = "",
        hide_env_values = true
    )]
    pub(crate) token: String,
    /// PEM CA that an `https://` gateway's certificate must chain to
    /// (default: the system's roots).
    #[arg(long, env = "PORTRAIT_CA", default_value = "")]
    pub(crate) ca: String,
    /// PEM certificate to present to a gateway that requires client
    /// certificates (mutual TLS); with `--tls-key`.
    #[arg(long, env = "PORTRAIT_TLS_CERT", default_value = "")]
    pub(crate) tls_cert: String,
    /// PEM private key of `--tls-cert`.
    #[arg(
        long,
        env = "PORTRAIT_TLS_KEY",
        default_value = "",
        hide_env_values = true
    )]
    pub(crate) tls_key: String,
}

impl GatewayArgs {
    /// A plain-TCP gateway at `url` (an in-process stack's).
    pub(crate) fn plain(url: String, token: &str) -> Self {
        Self {
            gateway: url,
            token: token.to_owned(),
            ca: String::new(),
            tls_cert: String::new(),
            tls_key: String::new(),
        }
    }
}
