use super::*;

#[test]
fn defaults_validate_and_derive_paths() {
    let c = Config::defaults(ServiceName::Rfm)
        .validated(ServiceName::Rfm)
        .unwrap();
    assert_eq!(c.store.url, "sqlite://.portrait/rfm.db");
    assert_eq!(c.bus.path, ".portrait/log.db");
    assert_eq!(c.server.listen, "127.0.0.1:50054");
}

#[test]
fn kafka_batches_are_librdkafkas_unless_set() {
    let c = Config::defaults(ServiceName::Ingest);
    assert_eq!(c.bus.max_batch_records, 0);
    assert_eq!(c.bus.bundle_records, 1);
    let mut c = c;
    c.bus.kind = BusKind::Kafka;
    c.bus.max_batch_records = 1;
    c.bus.bundle_records = 500;
    let bus = c.validated(ServiceName::Ingest).unwrap().bus_config();
    assert!(matches!(
        bus,
        portrait_bus::BusConfig::Kafka {
            max_batch_records: 1,
            bundle_records: 500,
            ..
        }
    ));
    for bad in [0, 100_001] {
        let mut c = Config::defaults(ServiceName::Ingest);
        c.bus.bundle_records = bad;
        let err = c.validated(ServiceName::Ingest).unwrap_err().to_string();
        assert!(err.contains("bus.bundle_records"), "{err}");
    }
    for bad in [0, 10_001] {
        let mut c = Config::defaults(ServiceName::Ingest);
        c.bus.fetch_wait_ms = bad;
        let err = c.validated(ServiceName::Ingest).unwrap_err().to_string();
        assert!(err.contains("bus.fetch_wait_ms"), "{err}");
    }
    let mut c = Config::defaults(ServiceName::Ingest);
    c.bus.max_batch_records = 1_000_001;
    let err = c.validated(ServiceName::Ingest).unwrap_err().to_string();
    assert!(err.contains("bus.max_batch_records"), "{err}");
    let mut c = Config::defaults(ServiceName::Ingest);
    c.ingest.commit_delay_ms = 60_001;
    let err = c.validated(ServiceName::Ingest).unwrap_err().to_string();
    assert!(err.contains("ingest.commit_delay_ms"), "{err}");
}

#[test]
fn bad_settings_say_which() {
    let mut c = Config::defaults(ServiceName::Ingest);
    c.domain.time_zone = "Asia/Atlantis".into();
    let err = c.validated(ServiceName::Ingest).unwrap_err().to_string();
    assert!(err.contains("domain.time_zone"), "{err}");
    let mut c = Config::defaults(ServiceName::Ingest);
    c.server.listen = "nowhere".into();
    assert!(
        c.validated(ServiceName::Ingest)
            .unwrap_err()
            .to_string()
            .contains("server.listen")
    );
    for poll_ms in [0, 99, 3_600_001] {
        let mut c = Config::defaults(ServiceName::Suggest);
        c.exchange.poll_ms = poll_ms;
        let err = c.validated(ServiceName::Suggest).unwrap_err().to_string();
        assert!(err.contains("exchange.poll_ms"), "{err}");
    }
    for ms in [0, 99, 600_001] {
        let mut c = Config::defaults(ServiceName::Profiler);
        c.store.acquire_timeout_ms = ms;
        let err = c.validated(ServiceName::Profiler).unwrap_err().to_string();
        assert!(err.contains("store.acquire_timeout_ms"), "{err}");
    }
}

#[test]
fn sync_settings_default_off_and_bad_ones_say_which_key() {
    let c = Config::defaults(ServiceName::Gateway)
        .validated(ServiceName::Gateway)
        .unwrap();
    assert_eq!(c.sync.source, "");
    assert_eq!(c.sync.store_url, "sqlite://.portrait/sync.db");
    assert_eq!(c.sync.time_zone, "Asia/Shanghai");
    assert_eq!(c.sync.reread_days, 14);
    type Break = fn(&mut SyncSettings);
    let cases: Vec<(Break, &str)> = vec![
        (|s| s.source = "oracle://u:pw@h/db".into(), "sync.source"),
        (|s| s.daily_at = "3:30pm".into(), "sync.daily_at"),
        (|s| s.daily_at = "24:00".into(), "sync.daily_at"),
        (|s| s.reread_days = -1, "sync.reread_days"),
        (|s| s.page_size = 0, "sync.page_size"),
        (|s| s.paid_states.clear(), "sync.paid_states"),
        (
            |s| {
                s.platforms.insert("快手".into(), "kuaishou".into());
            },
            "sync.platforms",
        ),
        (|s| s.max_amount_fen = 0, "sync.max_amount_fen"),
        (
            |s| s.mismatch_tolerance_fen = -1,
            "sync.mismatch_tolerance_fen",
        ),
        (|s| s.time_zone = "Mars/Base".into(), "sync.time_zone"),
        (|s| s.keep_findings_jobs = 0, "sync.keep_findings_jobs"),
    ];
    for (break_it, key) in cases {
        let mut c = Config::defaults(ServiceName::Gateway);
        break_it(&mut c.sync);
        let err = c.validated(ServiceName::Gateway).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
        assert!(!err.contains(":pw@"), "{err}");
    }
}

#[test]
fn the_source_never_shows_in_debug_output() {
    let mut c = Config::defaults(ServiceName::Gateway);
    c.sync.source = "mysql://reader:Pa55word@db/cyrg2025".into();
    c.sync.phone_key = "k3y-s3cret".into();
    let text = format!("{c:?}");
    assert!(
        !text.contains("Pa55word") && !text.contains("k3y-s3cret"),
        "{text}"
    );
}

#[test]
fn hh_mm() {
    assert_eq!(parse_hh_mm("03:30"), Some((3, 30)));
    assert_eq!(parse_hh_mm("23:59"), Some((23, 59)));
    for bad in ["3:30", "24:00", "12:60", "", "12:3", "ab:cd"] {
        assert_eq!(parse_hh_mm(bad), None, "{bad}");
    }
}

#[test]
fn model_settings_default_to_the_commands_and_bad_ones_name_their_key() {
    let c = Config::defaults(ServiceName::Suggest)
        .validated(ServiceName::Suggest)
        .unwrap();
    assert_eq!(c.models.horizon(), 52.0);
    assert_eq!((c.models.refit_minutes, c.models.min_customers), (60, 20));
    type Break = fn(&mut ModelSettings);
    let cases: [(Break, &str); 6] = [
        (|m| m.holdout_days = 3_651, "models.holdout_days"),
        (|m| m.horizon_periods = f64::NAN, "models.horizon_periods"),
        (|m| m.clv_months = 0, "models.clv_months"),
        (|m| m.discount_rate = -0.1, "models.discount_rate"),
        (|m| m.refit_minutes = 100_000, "models.refit_minutes"),
        (|m| m.min_customers = 1, "models.min_customers"),
    ];
    for (break_it, key) in cases {
        let mut c = Config::defaults(ServiceName::Suggest);
        break_it(&mut c.models);
        let err = c.validated(ServiceName::Suggest).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn rfm_settings_default_to_mean_over_all_history_and_bad_ones_say_which_key() {
    let c = Config::defaults(ServiceName::Rfm)
        .validated(ServiceName::Rfm)
        .unwrap();
    let d = c.rfm.domain();
    assert_eq!(
        (d.window_days, d.kind),
        (0, portrait_core::ThresholdKind::Mean)
    );
    type Break = fn(&mut RfmSettings);
    let cases: Vec<(Break, &str)> = vec![
        (|s| s.window_days = 36_501, "rfm.window_days"),
        (|s| s.window_days = -1, "rfm.window_days"),
        (|s| s.fixed_recency_days = -1, "rfm.fixed_recency_days"),
        (|s| s.fixed_frequency = -2, "rfm.fixed_frequency"),
        (
            |s| s.fixed_monetary_fen = i64::MAX,
            "rfm.fixed_monetary_fen",
        ),
    ];
    for (break_it, key) in cases {
        let mut c = Config::defaults(ServiceName::Rfm);
        break_it(&mut c.rfm);
        let err = c.validated(ServiceName::Rfm).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn rfm_thresholds_come_from_the_environment_by_name() {
    use figment::providers::{Serialized, Toml};
    let figment = Figment::from(Serialized::defaults(Config::defaults(ServiceName::Rfm))).merge(
        Toml::string("[rfm]\nthresholds = \"median\"\nwindow_days = 90"),
    );
    let c = Config::extract(figment, ServiceName::Rfm).unwrap();
    assert_eq!(c.rfm.thresholds, RfmThresholds::Median);
    assert_eq!(c.rfm.window_days, 90);
    let figment = Figment::from(Serialized::defaults(Config::defaults(ServiceName::Rfm)))
        .merge(Toml::string("[rfm]\nthresholds = \"average\""));
    let err = Config::extract(figment, ServiceName::Rfm)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rfm.thresholds"), "{err}");
}

#[test]
fn segment_settings_default_to_five_seconds_and_ninety_days_and_bad_ones_say_which_key() {
    let c = Config::defaults(ServiceName::Rfm)
        .validated(ServiceName::Rfm)
        .unwrap();
    assert_eq!(
        (
            c.segments.debounce_ms,
            c.segments.flow_days,
            c.segments.relay_delay_ms
        ),
        (5_000, 90, 0)
    );
    assert_eq!(c.topics().segments, "segments.v1");
    type Break = fn(&mut crate::SegmentSettings);
    let cases: Vec<(Break, &str)> = vec![
        (|s| s.debounce_ms = 10, "segments.debounce_ms"),
        (|s| s.debounce_ms = 3_600_001, "segments.debounce_ms"),
        (|s| s.flow_days = 0, "segments.flow_days"),
        (|s| s.flow_days = 3_661, "segments.flow_days"),
        (|s| s.relay_delay_ms = 60_001, "segments.relay_delay_ms"),
    ];
    for (break_it, key) in cases {
        let mut c = Config::defaults(ServiceName::Suggest);
        break_it(&mut c.segments);
        let err = c.validated(ServiceName::Suggest).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[test]
fn gateway_limits_reach_the_layer_and_bad_ones_say_which_key() {
    let c = Config::defaults(ServiceName::Gateway)
        .validated(ServiceName::Gateway)
        .unwrap();
    let limits = c.gateway_limits();
    assert_eq!(limits.max_request_bytes, 4 * 1024 * 1024);
    assert_eq!(
        limits.request_timeout,
        Some(std::time::Duration::from_secs(30))
    );
    assert_eq!((limits.max_in_flight, limits.rate_burst), (512, 200));
    assert_eq!(
        (limits.max_queued, limits.queue_wait),
        (4096, std::time::Duration::from_secs(1))
    );
    assert!((limits.rate_per_second - 100.0).abs() < f64::EPSILON);
    let mut off = Config::defaults(ServiceName::Gateway);
    off.gateway.request_timeout_ms = 0;
    assert_eq!(off.gateway_limits().request_timeout, None);
    type Break = fn(&mut crate::GatewaySettings);
    let cases: Vec<(Break, &str)> = vec![
        (|g| g.max_request_bytes = 1023, "gateway.max_request_bytes"),
        (
            |g| g.max_request_bytes = (256 << 20) + 1,
            "gateway.max_request_bytes",
        ),
        (|g| g.request_timeout_ms = 99, "gateway.request_timeout_ms"),
        (|g| g.max_in_flight = 0, "gateway.max_in_flight"),
        (|g| g.max_queued = 1_000_001, "gateway.max_queued"),
        (|g| g.queue_wait_ms = 60_001, "gateway.queue_wait_ms"),
        (|g| g.rate_per_second = 1_000_001, "gateway.rate_per_second"),
        (|g| g.rate_burst = 0, "gateway.rate_burst"),
    ];
    for (break_it, key) in cases {
        let mut c = Config::defaults(ServiceName::Gateway);
        break_it(&mut c.gateway);
        let err = c.validated(ServiceName::Gateway).unwrap_err().to_string();
        assert!(err.contains(key), "{key}: {err}");
    }
}
