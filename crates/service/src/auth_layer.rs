//! Authentication written once: a tower layer on every server reads the
//! bearer token, turns it into a `Principal` (request extensions), and for
//! gRPC paths checks the policy table. The gateway's JSON routes check the
//! same table by their rpc (they know which one they call).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use portrait_auth::Authenticator;
use tower::{Layer, Service};

/// Where refused requests and admin actions are recorded (the serving
/// service's audit log). `record` must not wait: it runs on the request path.
pub trait AuditSink: Send + Sync {
    fn record(&self, event: portrait_proto::v1::AuditEvent);

    /// Records `event` durably before the action it describes runs: an admin
    /// action that cannot be recorded is not done (the caller answers
    /// UNAVAILABLE). Defaults to [`AuditSink::record`].
    fn record_now(
        &self,
        event: portrait_proto::v1::AuditEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        self.record(event);
        Box::pin(async { Ok(()) })
    }
}

/// What an admin action whose audit record could not be written answers.
pub fn unrecorded(reason: &str) -> tonic::Status {
    tracing::error!(%reason, "an admin action was refused: its audit record could not be written");
    tonic::Status::unavailable("the audit log cannot be written; the action was not done")
}

/// An audit event of now; `principal` None when the caller is unknown.
pub fn audit_event(
    principal: Option<&portrait_auth::Principal>,
    rpc: &str,
    outcome: &str,
    reason: &str,
    peer: Option<std::net::SocketAddr>,
) -> portrait_proto::v1::AuditEvent {
    portrait_proto::v1::AuditEvent {
        id: 0,
        at_ms: crate::now_ms(),
        subject: principal.map(|p| p.subject.clone()).unwrap_or_default(),
        role: principal
            .map(|p| p.role.as_str().to_owned())
            .unwrap_or_default(),
        rpc: bounded(rpc),
        outcome: outcome.to_owned(),
        reason: reason.to_owned(),
        peer: peer.map(|p| p.to_string()).unwrap_or_default(),
        // The log it is written to names its service.
        service: String::new(),
    }
}

/// A refused request's path is whatever the client sent: the log keeps at
/// most `MAX_AUDIT_PATH` bytes of it.
const MAX_AUDIT_PATH: usize = 256;

fn bounded(text: &str) -> String {
    let mut end = text.len().min(MAX_AUDIT_PATH);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// The outcome of a refusal as the audit log names it.
pub fn audit_outcome(error: &portrait_auth::Error) -> &'static str {
    match error {
        portrait_auth::Error::Denied(_) => "permission_denied",
        _ => "unauthenticated",
    }
}

/// The peer of a request the server accepted over TCP.
pub fn peer_of(extensions: &http::Extensions) -> Option<std::net::SocketAddr> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    extensions
        .get::<TcpConnectInfo>()
        .and_then(|c| c.remote_addr())
        .or_else(|| {
            extensions
                .get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|c| c.get_ref().remote_addr())
        })
}

#[derive(Clone)]
pub(crate) struct AuthLayer {
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) audit: Option<Arc<dyn AuditSink>>,
}

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Auth {
            inner,
            auth: self.auth.clone(),
            audit: self.audit.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Auth<S> {
    inner: S,
    auth: Arc<Authenticator>,
    audit: Option<Arc<dyn AuditSink>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Answer without a token: health for probes, reflection when allowed, the
/// page and its assets (its login asks for the token), the API document.
fn exempt(path: &str, grpc: bool, allow_reflection: bool) -> bool {
    if grpc {
        return path.starts_with("/grpc.health.v1.Health/")
            || (allow_reflection
                && (path.starts_with("/grpc.reflection.v1.ServerReflection/")
                    || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")));
    }
    path == "/" || path.starts_with("/assets/") || path == "/v1/openapi.json"
}

fn refuse(error: &portrait_auth::Error, grpc: bool) -> http::Response<tonic::body::Body> {
    let status = match error {
        portrait_auth::Error::Denied(m) => tonic::Status::permission_denied(m.clone()),
        other => tonic::Status::unauthenticated(other.to_string()),
    };
    if grpc {
        status.into_http::<tonic::body::Body>()
    } else {
        let response = crate::http_error::status_response(&status);
        let (parts, body) = response.into_parts();
        http::Response::from_parts(parts, tonic::body::Body::new(body))
    }
}

impl<S, B> Service<http::Request<B>> for Auth<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let grpc = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/grpc"));
        let path = request.uri().path();
        if exempt(path, grpc, self.auth.allow_reflection()) {
            return Box::pin(self.inner.call(request));
        }
        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(http::HeaderValue::as_bytes);
        let peer = peer_of(request.extensions());
        let (principal, checked) = match self.auth.authenticate(header) {
            Err(e) => (None, Err(e)),
            // The JSON routes check the policy themselves, by their rpc.
            Ok(p) if !grpc => (Some(p), Ok(None)),
            Ok(p) => {
                let rule = p.authorize(path).map(Some);
                (Some(p), rule)
            }
        };
        match (principal, checked) {
            (Some(principal), Ok(rule)) => {
                let event = audit_event(Some(&principal), path, "allowed", "", peer);
                let action = rule.is_some_and(|rule| portrait_auth::is_audited_action(path, rule));
                request.extensions_mut().insert(principal);
                match &self.audit {
                    Some(audit) if action => {
                        // The ready service is taken; a clone waits for the next call.
                        let clone = self.inner.clone();
                        let mut inner = std::mem::replace(&mut self.inner, clone);
                        let audit = audit.clone();
                        Box::pin(async move {
                            if let Err(reason) = audit.record_now(event).await {
                                return Ok(unrecorded(&reason).into_http());
                            }
                            inner.call(request).await
                        })
                    }
                    _ => Box::pin(self.inner.call(request)),
                }
            }
            (principal, checked) => {
                let e = match checked {
                    Err(e) => e,
                    Ok(_) => portrait_auth::Error::Unauthenticated("missing token".into()),
                };
                tracing::info!(path, peer = ?peer, reason = %e, "request refused");
                if let Some(audit) = &self.audit {
                    let reason = e.to_string();
                    let outcome = audit_outcome(&e);
                    audit.record(audit_event(
                        principal.as_ref(),
                        path,
                        outcome,
                        &reason,
                        peer,
                    ));
                }
                let response = refuse(&e, grpc);
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

/// What the internal clients send: the service token (`auth.service_token`)
/// as a bearer, or nothing when none is configured.
#[derive(Clone, Default)]
pub struct Bearer(Option<tonic::metadata::AsciiMetadataValue>);

impl Bearer {
    pub fn new(token: &str) -> crate::Result<Self> {
        if token.is_empty() {
            return Ok(Self(None));
        }
        let value = format!("Bearer {token}").parse().map_err(|_| {
            crate::Error::Config(
                "a token must be printable ASCII (auth.service_token, --token)".into(),
            )
        })?;
        Ok(Self(Some(value)))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A channel to another service that carries the service token.
pub type PeerChannel = tonic::service::interceptor::InterceptedService<crate::local::Peer, Bearer>;

/// A client's channel that carries a token: always over the network, even to
/// a server of this process (what a client outside it would see).
pub type BearerChannel =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;

#[cfg(test)]
mod tests {
    use super::{bounded, exempt};

    #[test]
    fn an_audited_path_is_bounded_on_a_character() {
        assert_eq!(bounded("/v1/overview"), "/v1/overview");
        let long = format!("/{}", "客".repeat(200));
        let kept = bounded(&long);
        assert!(kept.len() <= 256 && long.starts_with(&kept) && kept.len() > 250);
    }

    #[test]
    fn only_probes_reflection_the_page_and_the_api_document_go_without_a_token() {
        assert!(exempt("/grpc.health.v1.Health/Check", true, false));
        assert!(exempt(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            true,
            true
        ));
        assert!(exempt(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            true,
            true
        ));
        assert!(!exempt(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            true,
            false
        ));
        assert!(exempt("/", false, false));
        assert!(exempt("/assets/0123abcd/app.js", false, false));
        assert!(exempt("/v1/openapi.json", false, false));
        // A gRPC client cannot reach the page's exemptions, nor JSON the probes'.
        assert!(!exempt("/", true, true));
        assert!(!exempt("/grpc.health.v1.Health/Check", false, true));
        for path in [
            "/v1/overview",
            "/portrait.v1.PortraitService/GetOverview",
            "/assets",
            "/v1/openapi.jsonx",
        ] {
            assert!(
                !exempt(path, false, true) && !exempt(path, true, true),
                "{path}"
            );
        }
    }
}
