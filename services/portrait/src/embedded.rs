use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use figment::providers::Serialized;
use portrait_service::{BusKind, Config, ServiceName};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// One configuration per service, in `ServiceName::ALL` order (gateway first),
/// all on the embedded log and SQLite stores under one data folder.
///
/// `base_port` moves the five ports together: gateway on it, the others after it.
pub fn configs(data_dir: Option<&Path>, base_port: Option<u16>) -> anyhow::Result<Vec<Config>> {
    let port = |s: ServiceName| {
        base_port.map(|b| b.saturating_add(s.default_port() - ServiceName::Gateway.default_port()))
    };
    ServiceName::ALL
        .iter()
        .map(|&service| {
            let mut figment = Config::figment(service)?;
            if let Some(dir) = data_dir {
                figment = figment.merge(Serialized::default("data_dir", dir));
            }
            if base_port.is_some() {
                for other in ServiceName::ALL {
                    let url = format!("http://127.0.0.1:{}", port(other).unwrap_or_default());
                    if other != ServiceName::Gateway {
                        figment = figment.merge(Serialized::default(&format!("gateway.{}", other.as_str()), url));
                    }
                }
                let listen = format!("127.0.0.1:{}", port(service).unwrap_or_default());
                figment = figment.merge(Serialized::default("server.listen", listen));
            }
            let mut config = Config::extract(figment, service)?;
            // With TLS on the listeners the services must call each other over it.
            if !config.server.tls_cert.is_empty() {
                for url in [
                    &mut config.gateway.ingest,
                    &mut config.gateway.profiler,
                    &mut config.gateway.rfm,
                    &mut config.gateway.suggest,
                ] {
                    if let Some(rest) = url.strip_prefix("http://") {
                        *url = format!("https://{rest}");
                    }
                }
            }
            if config.bus.kind != BusKind::Embedded {
                anyhow::bail!("the all-in-one process needs bus.kind = \"embedded\"; run the service binaries for Kafka");
            }
            Ok(config)
        })
        .collect::<anyhow::Result<_>>()
        .context("failed to configure the embedded stack")
}

/// Where `portrait run` and `portrait demo` keep the admin token they made.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// Authentication of the all-in-one process, before it starts. With
/// `auth.mode = "on"` and neither `auth.api_keys` nor `auth.jwt` set, one
/// admin key is made once and kept in `<data_dir>/admin.token` (mode 0600);
/// its token is returned to print. The services call each other with a
/// service token made fresh at every start unless `auth.service_token` is set.
pub fn prepare_auth(configs: &mut [Config]) -> anyhow::Result<Option<String>> {
    let Some(first) = configs.first() else {
        return Ok(None);
    };
    if first.auth.mode == portrait_auth::AuthMode::Off {
        return Ok(None);
    }
    let admin = if first.auth.api_keys.is_empty() && !first.auth.jwt.is_set() {
        Some(admin_token(&first.data_dir)?)
    } else {
        None
    };
    let service = if first.auth.service_token.is_empty() {
        portrait_auth::new_key().token
    } else {
        first.auth.service_token.clone()
    };
    for c in configs.iter_mut() {
        if let Some(token) = &admin {
            c.auth.api_keys.push(portrait_auth::ApiKey {
                name: "admin".into(),
                sha256: portrait_auth::sha256_hex(token),
                role: portrait_auth::Role::Admin,
                stores: Vec::new(),
                cities: Vec::new(),
            });
        }
        c.auth.service_token.clone_from(&service);
        c.auth.service_token_sha256 = portrait_auth::sha256_hex(&service);
    }
    Ok(admin)
}

/// An admin key for this process only (a one-shot job on the embedded
/// stack, which its own client calls); its token.
pub fn ephemeral_admin(configs: &mut [Config]) -> String {
    let key = portrait_auth::new_key();
    for c in configs.iter_mut() {
        c.auth.api_keys.push(portrait_auth::ApiKey {
            name: "portrait (this run)".into(),
            sha256: key.sha256.clone(),
            role: portrait_auth::Role::Admin,
            stores: Vec::new(),
            cities: Vec::new(),
        });
    }
    key.token
}

fn admin_token(data_dir: &Path) -> anyhow::Result<String> {
    secret_file(data_dir, ADMIN_TOKEN_FILE, || {
        portrait_auth::new_key().token
    })
}

/// The secret kept in `data_dir/name` (mode 0600), made by `make` the first time.
fn secret_file(
    data_dir: &Path,
    name: &str,
    make: impl FnOnce() -> String,
) -> anyhow::Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    let path = data_dir.join(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let token = text.trim().to_owned();
        if !token.is_empty() {
            return Ok(token);
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("failed to create {}", data_dir.display()))?;
    let token = make();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    writeln!(file, "{token}").with_context(|| format!("failed to write {}", path.display()))?;
    Ok(token)
}

/// The five services running as tasks of this process.
pub struct Stack {
    pub gateway_addr: SocketAddr,
    pub ingest_addr: SocketAddr,
    addrs: Vec<(ServiceName, SocketAddr)>,
    /// Released when the stack has stopped (`wait` consumes it).
    _lock: crate::data_lock::DataDirLock,
    tasks: JoinSet<(ServiceName, portrait_service::Result<()>)>,
    shutdown: CancellationToken,
}

/// Binds every configured address, then starts the five services. A taken
/// port fails here, before anything runs.
pub async fn start(configs: Vec<Config>, shutdown: CancellationToken) -> anyhow::Result<Stack> {
    let mut listeners = Vec::with_capacity(configs.len());
    for c in &configs {
        let (listener, _) = portrait_service::bind(&c.server.listen).await?;
        listeners.push(listener);
    }
    start_bound(configs, listeners, shutdown)
}

/// The whole stack in this process on `data_dir`, every service on a free
/// port: what tests and benchmarks start. Their clients send no token, so
/// this stack runs with `auth.mode = "off"`; `spawn_stack_with_auth` is the
/// stack with authentication.
pub async fn spawn_stack(data_dir: &Path, shutdown: CancellationToken) -> anyhow::Result<Stack> {
    let off = portrait_auth::AuthSettings {
        mode: portrait_auth::AuthMode::Off,
        ..portrait_auth::AuthSettings::default()
    };
    spawn_stack_with_auth(data_dir, shutdown, off).await
}

/// `spawn_stack` with `auth` for every service (the calls between them get
/// a fresh service token).
pub async fn spawn_stack_with_auth(
    data_dir: &Path,
    shutdown: CancellationToken,
    auth: portrait_auth::AuthSettings,
) -> anyhow::Result<Stack> {
    spawn_stack_with(data_dir, shutdown, auth, None, &[]).await
}

/// `spawn_stack` with every listener on TLS and every call between the
/// services over `https://`, with `tls`'s `tls_*` files (mutual when
/// `tls_client_ca` is set); the certificate must name 127.0.0.1.
pub async fn spawn_stack_over_tls(
    data_dir: &Path,
    shutdown: CancellationToken,
    tls: &portrait_service::ServerSettings,
) -> anyhow::Result<Stack> {
    let off = portrait_auth::AuthSettings {
        mode: portrait_auth::AuthMode::Off,
        ..portrait_auth::AuthSettings::default()
    };
    spawn_stack_with(data_dir, shutdown, off, Some(tls), &[]).await
}

/// `spawn_stack_with_auth` with the stores of `stores` (a service's URL,
/// PostgreSQL in tests; the gateway's is sync's) in place of their SQLite
/// files; the log stays embedded.
pub async fn spawn_stack_with_stores(
    data_dir: &Path,
    shutdown: CancellationToken,
    auth: portrait_auth::AuthSettings,
    stores: &[(ServiceName, String)],
) -> anyhow::Result<Stack> {
    spawn_stack_with(data_dir, shutdown, auth, None, stores).await
}

async fn spawn_stack_with(
    data_dir: &Path,
    shutdown: CancellationToken,
    auth: portrait_auth::AuthSettings,
    tls: Option<&portrait_service::ServerSettings>,
    stores: &[(ServiceName, String)],
) -> anyhow::Result<Stack> {
    let mut configs = configs(Some(data_dir), None)?;
    for (c, service) in configs.iter_mut().zip(ServiceName::ALL) {
        if let Some((_, url)) = stores.iter().find(|(s, _)| *s == service) {
            match service {
                ServiceName::Gateway => c.sync.store_url.clone_from(url),
                _ => c.store.url.clone_from(url),
            }
        }
    }
    for c in &mut configs {
        c.auth = auth.clone();
        // Tests ask from one address as fast as they can; the limits have
        // tests of their own.
        c.gateway.rate_per_second = 0;
        if let Some(tls) = tls {
            c.server = portrait_service::ServerSettings {
                listen: c.server.listen.clone(),
                ..tls.clone()
            };
        }
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    prepare_auth(&mut configs)?;
    let mut listeners = Vec::with_capacity(configs.len());
    for _ in &configs {
        let (listener, addr) = portrait_service::bind("127.0.0.1:0").await?;
        listeners.push((listener, addr));
    }
    let url = |s: ServiceName| {
        let i = ServiceName::ALL.iter().position(|n| *n == s).unwrap_or(0);
        format!("{scheme}://{}", listeners[i].1)
    };
    for c in &mut configs {
        c.gateway.ingest = url(ServiceName::Ingest);
        c.gateway.profiler = url(ServiceName::Profiler);
        c.gateway.rfm = url(ServiceName::Rfm);
        c.gateway.suggest = url(ServiceName::Suggest);
    }
    for (c, (_, addr)) in configs.iter_mut().zip(&listeners) {
        c.server.listen = addr.to_string();
    }
    start_bound(
        configs,
        listeners.into_iter().map(|(l, _)| l).collect(),
        shutdown,
    )
}

/// Where the embedded stack keeps the PII keys it made (`sync.pii_key`,
/// `sync.pii_encryption_key`) when none is configured.
pub const PII_KEY_FILE: &str = "pii.key";
pub const PII_ENCRYPTION_KEY_FILE: &str = "pii_encryption.key";

/// The embedded stack's sync needs a pseudonym key (it maps nobody without
/// one) and a reveal key: unless configured, each is made once and kept in
/// the data dir (mode 0600, reused; lose it and the ids change, which the
/// sync then refuses). A production stack takes them from its Secret.
fn prepare_pii(configs: &mut [Config]) -> anyhow::Result<()> {
    let Some(first) = configs.first() else {
        return Ok(());
    };
    let s = &first.sync;
    let pii_key = match (s.pii_key.is_empty(), s.phone_key.is_empty()) {
        (true, true) => Some(secret_file(
            &first.data_dir,
            PII_KEY_FILE,
            portrait_sync::pii::new_key,
        )?),
        _ => None,
    };
    let encryption = match s.pii_encryption_key.is_empty() {
        true => Some(secret_file(
            &first.data_dir,
            PII_ENCRYPTION_KEY_FILE,
            portrait_sync::pii::new_key,
        )?),
        false => None,
    };
    for c in configs.iter_mut() {
        if let Some(k) = &pii_key {
            c.sync.pii_key.clone_from(k);
        }
        if let Some(k) = &encryption {
            c.sync.pii_encryption_key.clone_from(k);
        }
    }
    Ok(())
}

fn start_bound(
    mut configs: Vec<Config>,
    listeners: Vec<TcpListener>,
    shutdown: CancellationToken,
) -> anyhow::Result<Stack> {
    prepare_pii(&mut configs)?;
    let addr = |s: ServiceName| -> anyhow::Result<SocketAddr> {
        let i = ServiceName::ALL.iter().position(|n| *n == s).unwrap_or(0);
        Ok(listeners[i].local_addr()?)
    };
    let (gateway_addr, ingest_addr) = (addr(ServiceName::Gateway)?, addr(ServiceName::Ingest)?);
    let data_dir = configs
        .first()
        .map(|c| c.data_dir.clone())
        .context("failed to start the embedded stack: no configuration")?;
    let lock = crate::data_lock::DataDirLock::acquire(&data_dir)?;
    let addrs = ServiceName::ALL
        .iter()
        .map(|&s| Ok((s, addr(s)?)))
        .collect::<anyhow::Result<_>>()?;
    let mut tasks = JoinSet::new();
    for ((config, listener), service) in configs.into_iter().zip(listeners).zip(ServiceName::ALL) {
        let token = shutdown.clone();
        tasks.spawn(async move {
            let result = match service {
                ServiceName::Gateway => portrait_gateway::run(config, listener, token).await,
                ServiceName::Ingest => portrait_ingest::run(config, listener, token).await,
                ServiceName::Profiler => portrait_profiler::run(config, listener, token).await,
                ServiceName::Rfm => portrait_rfm::run(config, listener, token).await,
                ServiceName::Suggest => portrait_suggest::run(config, listener, token).await,
            };
            (service, result)
        });
    }
    Ok(Stack {
        gateway_addr,
        ingest_addr,
        addrs,
        _lock: lock,
        tasks,
        shutdown,
    })
}

impl Stack {
    /// Where `service` listens.
    pub fn addr(&self, service: ServiceName) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, a)| *a)
    }

    /// Waits until every service stopped; the first failure stops the others.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        while let Some(joined) = self.tasks.join_next().await {
            let (service, result) = joined.context("a service task panicked")?;
            if let Err(e) = result {
                self.shutdown.cancel();
                first_error.get_or_insert(
                    anyhow::Error::new(e).context(format!("{} failed", service.as_str())),
                );
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
