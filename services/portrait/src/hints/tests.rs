//! The hints for each scheme, written out by hand.

use portrait_service::ServerSettings;

use super::Reach;

const OVERVIEW: &str = "portrait.v1.PortraitService/GetOverview";

fn server(cert: &str, key: &str, ca: &str, client_ca: &str) -> ServerSettings {
    ServerSettings {
        listen: String::new(),
        tls_cert: cert.into(),
        tls_key: key.into(),
        tls_ca: ca.into(),
        tls_client_ca: client_ca.into(),
    }
}

fn all(reach: &Reach<'_>) -> Vec<String> {
    vec![
        reach.url(),
        reach.page(),
        reach.cli_flags(),
        reach.curl("/v1/overview"),
        reach.grpcurl("{}", OVERVIEW),
    ]
}

#[test]
fn plain_tcp_on_the_default_port_needs_no_flags() {
    let plain = server("", "", "", "");
    let reach = Reach::new("127.0.0.1:50051".parse().expect("addr"), &plain, false);
    assert_eq!(
        all(&reach),
        [
            "http://127.0.0.1:50051",
            "http://127.0.0.1:50051/",
            "",
            "curl 'http://127.0.0.1:50051/v1/overview'",
            "grpcurl -plaintext -d '{}' 127.0.0.1:50051 portrait.v1.PortraitService/GetOverview",
        ]
    );
    let moved = Reach::new("127.0.0.1:7000".parse().expect("addr"), &plain, false);
    assert_eq!(moved.cli_flags(), " --gateway http://127.0.0.1:7000");
}

#[test]
fn tls_hints_say_https_and_the_ca() {
    let tls = server("/etc/p/tls.crt", "/etc/p/tls.key", "/etc/p/ca.crt", "");
    let reach = Reach::new("127.0.0.1:50051".parse().expect("addr"), &tls, true);
    assert_eq!(
        all(&reach),
        [
            "https://127.0.0.1:50051",
            "https://127.0.0.1:50051/",
            " --gateway https://127.0.0.1:50051 --ca /etc/p/ca.crt",
            "curl --cacert /etc/p/ca.crt -H \"Authorization: Bearer $PORTRAIT_TOKEN\" \
             'https://127.0.0.1:50051/v1/overview'",
            "grpcurl -cacert /etc/p/ca.crt -H \"authorization: Bearer $PORTRAIT_TOKEN\" \
             -d '{}' 127.0.0.1:50051 portrait.v1.PortraitService/GetOverview",
        ]
    );
}

#[test]
fn mutual_tls_hints_present_the_certificate() {
    let tls = server("/my certs/s.pem", "/my certs/s.key", "ca.pem", "ca.pem");
    let reach = Reach::new("10.0.0.5:443".parse().expect("addr"), &tls, false);
    assert_eq!(
        all(&reach),
        [
            "https://10.0.0.5:443",
            "https://10.0.0.5:443/",
            " --gateway https://10.0.0.5:443 --ca ca.pem \
             --tls-cert '/my certs/s.pem' --tls-key '/my certs/s.key'",
            "curl --cacert ca.pem --cert '/my certs/s.pem' --key '/my certs/s.key' \
             'https://10.0.0.5:443/v1/overview'",
            "grpcurl -cacert ca.pem -cert '/my certs/s.pem' -key '/my certs/s.key' \
             -d '{}' 10.0.0.5:443 portrait.v1.PortraitService/GetOverview",
        ]
    );
}

#[test]
fn tls_without_a_ca_trusts_the_systems_roots() {
    let tls = server("tls.crt", "tls.key", "", "");
    let reach = Reach::new("127.0.0.1:50051".parse().expect("addr"), &tls, false);
    for hint in all(&reach) {
        assert!(
            !hint.contains("http://") && !hint.contains("-plaintext") && !hint.contains("ca "),
            "{hint}"
        );
    }
    assert_eq!(reach.cli_flags(), " --gateway https://127.0.0.1:50051");
}
