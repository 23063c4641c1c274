//! The 客群画像 page: its files, embedded at build time (build.rs installs
//! ECharts from the npm registry by the committed lockfile), and the routes
//! that serve them. The page calls only the gateway's JSON API (`/v1/…`).

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderMap, HeaderValue, StatusCode};

/// One embedded file and how it is served.
#[derive(Debug)]
pub struct Asset {
    /// Where it is served: `/` for the page, `/assets/<hash>/<name>` else.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzipped, when that is smaller.
    pub gzip: Option<&'static [u8]>,
    /// Served under a folder named by the hash of every asset, so a browser
    /// may keep it for good; the page itself is revalidated on each load.
    pub immutable: bool,
    pub etag: &'static str,
}

/// Every file of the page.
pub static ASSETS: &[Asset] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The folder the assets are served from (`/assets/<hash>`).
pub const ASSET_DIR: &str = include_str!(concat!(env!("OUT_DIR"), "/asset_dir.txt"));

/// The asset served at `path`.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The page at `/` and its assets; anything else is left to the caller's
/// fallback.
pub fn router() -> Router {
    ASSETS.iter().fold(Router::new(), |router, asset| {
        router.route(
            asset.path,
            axum::routing::get(move |headers: HeaderMap| async move { serve(asset, &headers) }),
        )
    })
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The asset with its caching headers; 304 when the client holds this version.
pub fn serve(asset: &'static Asset, headers: &HeaderMap) -> Response {
    let cache = if asset.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut builder = Response::builder()
        .header(CACHE_CONTROL, cache)
        .header(ETAG, asset.etag)
        .header(VARY, "accept-encoding");
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == asset.etag));
    let body = if fresh {
        builder = builder.status(StatusCode::NOT_MODIFIED);
        Body::empty()
    } else {
        builder = builder
            .header(CONTENT_TYPE, asset.content_type)
            .header(X_CONTENT_TYPE_OPTIONS, "nosniff");
        match asset.gzip {
            Some(gz) if accepts_gzip(headers) => {
                builder = builder.header(CONTENT_ENCODING, "gzip");
                Body::from(gz)
            }
            _ => Body::from(asset.body),
        }
    };
    builder.body(body).unwrap_or_else(|_| {
        // Every header above is a valid constant; keep serving regardless.
        let mut response = Response::new(Body::from(asset.body));
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        response
    })
}

#[cfg(test)]
mod tests;
