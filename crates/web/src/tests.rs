use std::io::Read;

use super::*;

fn text(asset: &Asset) -> &str {
    std::str::from_utf8(asset.body).unwrap()
}

#[test]
fn the_page_names_only_served_assets_and_every_module_import_is_served() {
    let page = asset("/").unwrap();
    assert!(!page.immutable);
    assert_eq!(page.content_type, "text/html; charset=utf-8");
    let html = text(page);
    assert!(!html.contains("{{"), "a placeholder was left in the page");
    let named: Vec<&str> = html
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert!(named.len() >= 3, "{named:?}");
    for path in named {
        assert!(path.starts_with(ASSET_DIR), "{path}");
        assert!(
            asset(path).is_some_and(|a| a.immutable),
            "{path} is not served"
        );
    }
    // Relative imports between our modules resolve inside the asset folder.
    for a in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
        for import in text(a).split("from './").skip(1) {
            let name = import.split('\'').next().unwrap();
            let path = format!("{ASSET_DIR}/{name}");
            assert!(asset(&path).is_some(), "{} imports {name}", a.path);
        }
    }
    // No address outside this server: the page must work with no internet.
    for a in ASSETS
        .iter()
        .filter(|a| !a.path.ends_with("echarts.min.js"))
    {
        assert!(!text(a).contains("http://"), "{}", a.path);
        assert!(!text(a).contains("https://"), "{}", a.path);
    }
}

#[test]
fn echarts_is_embedded_and_gzip_copies_decode_to_the_same_bytes() {
    let echarts = asset(&format!("{ASSET_DIR}/echarts.min.js")).unwrap();
    assert!(echarts.body.len() > 100_000);
    assert!(text(echarts).contains("echarts"));
    for a in ASSETS {
        if let Some(gz) = a.gzip {
            assert!(gz.len() < a.body.len(), "{}", a.path);
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(gz)
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(plain, a.body, "{}", a.path);
        }
    }
    assert!(echarts.gzip.is_some());
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                http::HeaderName::from_static(k),
                HeaderValue::from_static(v),
            )
        })
        .collect()
}

#[test]
fn gzip_when_accepted_and_304_for_the_version_held() {
    let echarts = asset(&format!("{ASSET_DIR}/echarts.min.js")).unwrap();
    let gz = serve(echarts, &headers(&[("accept-encoding", "br, gzip;q=0.8")]));
    assert_eq!(gz.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(
        gz.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(gz.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
    let plain = serve(echarts, &headers(&[("accept-encoding", "gzip;q=0, br")]));
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    let plain = serve(echarts, &HeaderMap::new());
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());

    let page = asset("/").unwrap();
    let first = serve(page, &HeaderMap::new());
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()[CACHE_CONTROL], "no-cache");
    let etag = first.headers()[ETAG].clone();
    let mut again = HeaderMap::new();
    again.insert(IF_NONE_MATCH, etag);
    assert_eq!(serve(page, &again).status(), StatusCode::NOT_MODIFIED);
    let other = headers(&[("if-none-match", "\"other\"")]);
    assert_eq!(serve(page, &other).status(), StatusCode::OK);
}
