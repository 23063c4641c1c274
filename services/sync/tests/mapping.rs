//! Every mapping rule of docs/sync.md on hand-written source rows, with the
//! expected values worked out by hand.

use portrait_proto::v1::{Channel, Order, OrderStatus};
use portrait_sync::{
    Finding, Mapped, Outcome, Reason, Rules, Shop, Shops, SourceLine, SourceOrder, map_order,
};

/// 2025-03-05 12:34:56 in Shanghai.
const PLACED: i64 = 1_741_149_296_000;
const NOW: i64 = PLACED + 86_400_000;

fn shops() -> Shops {
    [
        (
            7,
            Shop {
                name: Some("静安寺店".into()),
                city: Some("上海市".into()),
            },
        ),
        (
            8,
            Shop {
                name: Some("  ".into()),
                city: Some(" 北京 ".into()),
            },
        ),
    ]
    .into_iter()
    .collect()
}

fn line(id: i64, goods: i64, qty: i64, total: &str) -> SourceLine {
    SourceLine {
        id,
        goods_id: Some(goods),
        goods_name: Some(format!("goods {goods}")),
        category_id: Some(3),
        category_name: Some("热狗".into()),
        goods_number: Some(qty),
        goods_price: Some(total.into()),
        goods_total: Some(total.into()),
        real_income: None,
        is_refund: Some(0),
        refund_money: Some("0.00".into()),
        delflag: Some(0),
    }
}

fn order() -> SourceOrder {
    SourceOrder {
        id: 1001,
        open_id: Some(String::new()),
        vip_id: Some(0),
        vip_tel: None,
        shop_id: Some(7),
        shop_name: Some("静安店(旧名)".into()),
        record_time: Some("2025-03-05 12:34:56".into()),
        total: Some("30.00".into()),
        cash: Some("30.00".into()),
        pay_state: Some(2),
        refund_money: None,
        delflag: Some(0),
        takeout_name: Some(String::new()),
        lines: vec![line(1, 11, 1, "10.00"), line(2, 12, 2, "20.00")],
        import_error: None,
    }
}

fn rules() -> Rules {
    Rules::defaults("test-key")
}

fn map(o: &SourceOrder) -> Mapped {
    map_order(o, &shops(), &rules(), NOW)
}

fn live(o: &SourceOrder) -> (Order, Vec<Finding>) {
    match map(o) {
        Mapped {
            outcome: Outcome::Live(order),
            findings,
            ..
        } => (order, findings),
        other => panic!("expected a live order, got {other:?}"),
    }
}

fn dropped(o: &SourceOrder) -> (Reason, OrderStatus, Vec<Reason>) {
    match map(o) {
        Mapped {
            outcome: Outcome::Dropped { reason, status },
            findings,
            ..
        } => (reason, status, findings.iter().map(|f| f.reason).collect()),
        other => panic!("expected a dropped order, got {other:?}"),
    }
}

fn reasons(f: &[Finding]) -> Vec<Reason> {
    f.iter().map(|f| f.reason).collect()
}

fn nets(o: &Order) -> Vec<i64> {
    o.lines.iter().map(|l| l.net_amount_fen).collect()
}

#[test]
fn a_plain_paid_order_maps_field_by_field() {
    let (o, findings) = live(&order());
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(o.order_id, "1001");
    assert_eq!(o.customer_id, "");
    assert_eq!(o.store_id, "7");
    // The current name from Shop (renamed stores keep their id), city normalised.
    assert_eq!(o.store_name, "静安寺店");
    assert_eq!(o.city, "上海");
    assert_eq!(o.channel, Channel::Pos as i32);
    assert_eq!(o.placed_at_ms, PLACED);
    assert_eq!(o.net_amount_fen, 3000);
    assert_eq!(o.status, OrderStatus::Paid as i32);
    assert_eq!(o.lines.len(), 2);
    let l = &o.lines[1];
    assert_eq!(
        (l.product_id.as_str(), l.product_name.as_str()),
        ("12", "goods 12")
    );
    assert_eq!(
        (l.category_id.as_str(), l.category_name.as_str()),
        ("3", "热狗")
    );
    assert_eq!((l.quantity, l.net_amount_fen), (2, 2000));
}

#[test]
fn unpaid_and_deleted_orders_do_not_count() {
    for state in [None, Some(0), Some(1), Some(3)] {
        let mut o = order();
        o.pay_state = state;
        assert_eq!(
            dropped(&o),
            (
                Reason::NotPaid,
                OrderStatus::Cancelled,
                vec![Reason::NotPaid]
            )
        );
    }
    let mut o = order();
    o.delflag = Some(1);
    o.pay_state = Some(0);
    assert_eq!(dropped(&o).0, Reason::Deleted, "deleted wins over unpaid");
}

#[test]
fn paid_states_are_configurable() {
    let mut r = rules();
    r.paid_states = vec![2, 5];
    let mut o = order();
    o.pay_state = Some(5);
    assert!(matches!(
        map_order(&o, &shops(), &r, NOW).outcome,
        Outcome::Live(_)
    ));
}

#[test]
fn customer_is_open_id_then_member_then_phone_hash_then_anonymous() {
    // Expected pseudonyms: HMAC-SHA256 under "test-key", first 32 hex digits,
    // computed with Python's hmac module.
    let mut o = order();
    o.open_id = Some(" oX1 ".into());
    o.vip_id = Some(42);
    o.vip_tel = Some("+86 138-1234-5678".into());
    let m = map_order(&o, &shops(), &rules(), NOW);
    assert_eq!(
        live(&o).0.customer_id,
        "wx:eb8aa003ac8df7ed7507271df6930510"
    );
    // The plain values go to the reveal store only, with the id they hide.
    let who = m.identity.expect("an identity");
    assert_eq!(who.customer_id, "wx:eb8aa003ac8df7ed7507271df6930510");
    assert_eq!(
        (
            who.open_id.as_str(),
            who.member_id.as_str(),
            who.phone.as_str()
        ),
        ("oX1", "42", "13812345678")
    );
    o.open_id = None;
    assert_eq!(
        live(&o).0.customer_id,
        "vip:29a6eb6f6fbb448754e3d58fd69b4abf"
    );
    o.vip_id = Some(0);
    let by_phone = live(&o).0.customer_id;
    assert_eq!(by_phone, "tel:9e7d43e788cbb76bcebe7f01f3dd6b56");
    assert!(!by_phone.contains("13812345678"));
    // Every spelling of one phone is one customer.
    o.vip_tel = Some("138 1234 5678".into());
    assert_eq!(live(&o).0.customer_id, by_phone);
    // Another key, another hash: the hash is keyed.
    let other = map_order(&o, &shops(), &Rules::defaults("other"), NOW);
    let Outcome::Live(other) = other.outcome else {
        panic!("live")
    };
    assert_ne!(other.customer_id, by_phone);
    // Without a key nobody is identified (the job refuses to run keyless).
    o.open_id = Some("oX1".into());
    o.vip_id = Some(42);
    let keyless = map_order(&o, &shops(), &Rules::defaults(""), NOW);
    assert_eq!(keyless.identity, None);
    let Outcome::Live(keyless) = keyless.outcome else {
        panic!("live")
    };
    assert_eq!(keyless.customer_id, "");
    o.open_id = None;
    o.vip_id = Some(0);
    o.vip_tel = None;
    o.vip_id = None;
    assert_eq!(live(&o).0.customer_id, "");
}

#[test]
fn a_bad_phone_is_a_correction_that_never_holds_the_number() {
    let mut o = order();
    o.vip_tel = Some("021-5555".into());
    let (order, findings) = live(&o);
    assert_eq!(order.customer_id, "");
    assert_eq!(reasons(&findings), vec![Reason::BadPhone]);
    assert!(!findings[0].detail.contains("5555"));
}

#[test]
fn channel_rules() {
    let cases = [
        ("美团", "", Channel::Meituan),
        ("美团外卖", "oid", Channel::Meituan),
        ("饿了么", "", Channel::Eleme),
        ("抖音", "", Channel::Douyin),
        ("", "oid", Channel::WechatMini),
        ("", "", Channel::Pos),
    ];
    for (takeout, open_id, channel) in cases {
        let mut o = order();
        o.takeout_name = Some(takeout.into());
        o.open_id = Some(open_id.into());
        let (order, findings) = live(&o);
        assert_eq!(order.channel, channel as i32, "{takeout:?} {open_id:?}");
        assert!(findings.is_empty());
    }
    let mut o = order();
    o.takeout_name = Some("快手".into());
    let (order, findings) = live(&o);
    assert_eq!(order.channel, Channel::Pos as i32);
    assert_eq!(reasons(&findings), vec![Reason::UnknownPlatform]);
}

#[test]
fn the_three_time_layouts_and_bad_times() {
    for t in [
        "2025-03-05 12:34:56",
        "2025/3/5 12:34:56",
        "2025-03-05T12:34:56.000",
    ] {
        let mut o = order();
        o.record_time = Some(t.into());
        assert_eq!(live(&o).0.placed_at_ms, PLACED, "{t}");
    }
    for t in [None, Some(""), Some("garbage"), Some("1970-01-01 08:00:00")] {
        let mut o = order();
        o.record_time = t.map(Into::into);
        assert_eq!(dropped(&o).0, Reason::BadTime, "{t:?}");
    }
    let mut o = order();
    o.record_time = Some("2025-03-08 12:34:56".into());
    assert_eq!(dropped(&o).0, Reason::FutureTime);
    // Within domain.max_future_minutes (a day) is clock skew, not the future.
    o.record_time = Some("2025-03-07 12:00:00".into());
    assert_eq!(live(&o).0.placed_at_ms, PLACED + 2 * 86_400_000 - 2_096_000);
}

#[test]
fn a_dropped_order_still_reports_its_time_for_the_window() {
    let mut o = order();
    o.pay_state = Some(0);
    assert_eq!(map(&o).placed_at_ms, Some(PLACED));
}

#[test]
fn stores_missing_from_shop_are_created_with_unknown_city() {
    let mut o = order();
    o.shop_id = Some(99);
    let (order, findings) = live(&o);
    assert_eq!(
        (
            order.store_id.as_str(),
            order.store_name.as_str(),
            order.city.as_str()
        ),
        ("99", "静安店(旧名)", "")
    );
    assert_eq!(reasons(&findings), vec![Reason::UnknownStore]);
    // A blank current name falls back to the order's; a city is trimmed.
    o.shop_id = Some(8);
    let (order, _) = live(&o);
    assert_eq!(
        (order.store_name.as_str(), order.city.as_str()),
        ("静安店(旧名)", "北京")
    );
    for id in [None, Some(0), Some(-3)] {
        o.shop_id = id;
        assert_eq!(dropped(&o).0, Reason::NoStore);
    }
}

#[test]
fn city_normalisation() {
    let suffixes = vec!["市".to_owned()];
    assert_eq!(portrait_sync::normalise_city("上海市", &suffixes), "上海");
    assert_eq!(portrait_sync::normalise_city(" 上海 ", &suffixes), "上海");
    assert_eq!(portrait_sync::normalise_city("市", &suffixes), "市");
    assert_eq!(portrait_sync::normalise_city("", &suffixes), "");
}

#[test]
fn line_net_is_real_income_else_total_minus_line_refund() {
    let mut o = order();
    o.cash = Some("26.50".into());
    o.lines[0].real_income = Some("8.50".into());
    o.lines[1].refund_money = Some("2.00".into());
    let (order, findings) = live(&o);
    // 8.50 ; 20.00 - 2.00; cash 26.50 = 8.50 + 20.00 - 2.00? No: cash is compared before refunds.
    assert_eq!(nets(&order), vec![850, 1800]);
    assert_eq!(order.net_amount_fen, 2650);
    assert_eq!(
        reasons(&findings),
        vec![Reason::LinesMismatch],
        "28.50 of lines vs 26.50 paid"
    );
}

#[test]
fn a_refunded_line_nets_to_zero_and_deleted_lines_are_ignored() {
    let mut o = order();
    o.lines[0].is_refund = Some(1);
    o.lines[0].refund_money = Some("3.00".into());
    o.lines.push(SourceLine {
        delflag: Some(1),
        ..line(3, 13, 1, "99.00")
    });
    let (order, findings) = live(&o);
    assert_eq!(nets(&order), vec![0, 2000]);
    assert_eq!(order.lines.len(), 2);
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn an_unexplained_order_refund_is_spread_pro_rata_with_exact_fen() {
    // Lines 10.00, 20.00, 0.01; order refund 10.00 of which 0 explained.
    // Shares: 1000*1000/3001 = 333.22 → 333, 1000*2000/3001 = 666.44 → 666,
    // 1000*1/3001 = 0.33 → 0; left 1 fen → largest remainder: line 3 (0.333)
    // vs line 1 (0.222) vs line 2 (0.444) → line 2.
    let mut o = order();
    o.cash = Some("30.01".into());
    o.lines.push(line(3, 13, 1, "0.01"));
    o.refund_money = Some("10.00".into());
    let (order, findings) = live(&o);
    assert_eq!(nets(&order), vec![1000 - 333, 2000 - 667, 1]);
    assert_eq!(order.net_amount_fen, 2001);
    assert_eq!(reasons(&findings), vec![Reason::RefundSpread]);
}

#[test]
fn remainder_ties_go_to_the_lower_line_id() {
    // Three equal lines of 1.00, refund 1.00: 33 each, one fen left, all
    // remainders equal → the lowest id takes it, whatever the row order.
    let mut o = order();
    o.cash = Some("3.00".into());
    o.lines = vec![
        line(30, 1, 1, "1.00"),
        line(10, 2, 1, "1.00"),
        line(20, 3, 1, "1.00"),
    ];
    o.refund_money = Some("1.00".into());
    let (order, _) = live(&o);
    // Lines come out in id order: 10, 20, 30.
    assert_eq!(
        order
            .lines
            .iter()
            .map(|l| l.product_id.as_str())
            .collect::<Vec<_>>(),
        vec!["2", "3", "1"]
    );
    assert_eq!(nets(&order), vec![66, 67, 67]);
}

#[test]
fn a_refund_explained_by_lines_is_not_spread_twice() {
    let mut o = order();
    o.lines[1].refund_money = Some("5.00".into());
    o.refund_money = Some("5.00".into());
    let (order, findings) = live(&o);
    assert_eq!(nets(&order), vec![1000, 1500]);
    assert!(findings.is_empty());
    // Partly explained: 8.00 - 5.00 = 3.00 spread over 10.00 and 15.00.
    o.refund_money = Some("8.00".into());
    let (order, _) = live(&o);
    assert_eq!(nets(&order), vec![1000 - 120, 1500 - 180]);
}

#[test]
fn a_full_refund_retracts_and_an_excess_refund_is_reported() {
    let mut o = order();
    o.refund_money = Some("30.00".into());
    assert_eq!(
        dropped(&o),
        (
            Reason::FullyRefunded,
            OrderStatus::Refunded,
            vec![Reason::FullyRefunded, Reason::RefundSpread]
        )
    );
    o.refund_money = Some("31.00".into());
    assert_eq!(
        dropped(&o),
        (
            Reason::RefundExceeds,
            OrderStatus::Refunded,
            vec![Reason::RefundExceeds]
        )
    );
    let mut o = order();
    for l in &mut o.lines {
        l.is_refund = Some(1);
    }
    assert_eq!(dropped(&o).0, Reason::FullyRefunded);
    // Configurable: a fully refunded order may count as a zero-amount order.
    let mut r = rules();
    r.full_refund_retracts = false;
    let Outcome::Live(z) = map_order(&o, &shops(), &r, NOW).outcome else {
        panic!("live")
    };
    assert_eq!(z.net_amount_fen, 0);
    // A free order (no refund) is a zero-amount order, not a retraction.
    let mut o = order();
    o.cash = Some("0".into());
    for l in &mut o.lines {
        l.goods_total = Some("0.00".into());
    }
    assert_eq!(live(&o).0.net_amount_fen, 0);
}

#[test]
fn bad_amounts_are_rejected_with_their_reason() {
    type Break = fn(&mut SourceOrder);
    let cases: Vec<(Break, Reason)> = vec![
        (
            |o| o.lines[0].goods_total = Some("12,5".into()),
            Reason::BadAmount,
        ),
        (|o| o.lines[0].goods_total = None, Reason::BadAmount),
        (
            |o| o.lines[0].real_income = Some("abc".into()),
            Reason::BadAmount,
        ),
        (|o| o.cash = Some("x".into()), Reason::BadAmount),
        (|o| o.refund_money = Some("1.234".into()), Reason::BadAmount),
        (
            |o| o.lines[0].goods_total = Some("-10.00".into()),
            Reason::NegativeAmount,
        ),
        (
            |o| o.lines[0].refund_money = Some("-1.00".into()),
            Reason::NegativeAmount,
        ),
        (
            |o| o.lines[0].refund_money = Some("10.01".into()),
            Reason::NegativeAmount,
        ),
        (
            |o| o.refund_money = Some("-5".into()),
            Reason::NegativeAmount,
        ),
        (
            |o| o.lines[0].goods_total = Some("10000.01".into()),
            Reason::AbsurdAmount,
        ),
        (|o| o.lines[0].goods_number = Some(0), Reason::BadQuantity),
        (|o| o.lines[0].goods_number = None, Reason::BadQuantity),
        (|o| o.lines[0].goods_id = None, Reason::BadProduct),
        (|o| o.lines.clear(), Reason::NoLines),
        (
            |o| {
                for l in &mut o.lines {
                    l.delflag = Some(1);
                }
            },
            Reason::NoLines,
        ),
    ];
    for (i, (break_it, reason)) in cases.into_iter().enumerate() {
        let mut o = order();
        break_it(&mut o);
        let (got, status, findings) = dropped(&o);
        assert_eq!((got, status), (reason, OrderStatus::Cancelled), "case {i}");
        assert_eq!(
            findings[0], reason,
            "case {i}: the rejection is the first finding"
        );
    }
    // A line's rejection names the line.
    let mut o = order();
    o.lines[1].goods_number = Some(-1);
    let m = map(&o);
    assert_eq!(
        (m.findings[0].reason, m.findings[0].line_id),
        (Reason::BadQuantity, Some(2))
    );
    let mut o = order();
    o.lines[0].goods_total = Some("10000.00".into());
    o.cash = None;
    o.total = None;
    assert_eq!(
        live(&o).0.net_amount_fen,
        1_002_000,
        "exactly the maximum is allowed"
    );
}

#[test]
fn lines_are_checked_against_cash_else_total() {
    let mut o = order();
    o.cash = Some("29.99".into());
    assert_eq!(reasons(&live(&o).1), vec![Reason::LinesMismatch]);
    o.cash = None;
    o.total = Some("30".into());
    assert!(live(&o).1.is_empty());
    o.total = None;
    assert!(live(&o).1.is_empty(), "nothing to compare with");
    let mut r = rules();
    r.reject_mismatch = true;
    o.cash = Some("1.00".into());
    let m = map_order(&o, &shops(), &r, NOW);
    assert!(matches!(
        m.outcome,
        Outcome::Dropped {
            reason: Reason::LinesMismatch,
            ..
        }
    ));
    r.reject_mismatch = false;
    r.mismatch_tolerance_fen = 2900;
    assert!(map_order(&o, &shops(), &r, NOW).findings.is_empty());
}

#[test]
fn duplicate_lines_are_dropped_keeping_the_first() {
    // A POS double insert: the payment saw the line once.
    let mut o = order();
    o.lines.push(line(5, 12, 2, "20.00"));
    let (got, findings) = live(&o);
    assert_eq!(nets(&got), vec![1000, 2000]);
    assert_eq!(
        findings,
        vec![Finding::new(Reason::DuplicateLine, 1001, "identical to an earlier line").line(5)]
    );
    let mut r = rules();
    r.drop_duplicate_lines = false;
    let Outcome::Live(kept) = map_order(&o, &shops(), &r, NOW).outcome else {
        panic!("live")
    };
    assert_eq!(kept.net_amount_fen, 5000);
    // Same product at another price is not a duplicate.
    let mut o = order();
    o.cash = Some("55.00".into());
    o.lines.push(line(5, 12, 2, "25.00"));
    assert_eq!(live(&o).0.lines.len(), 3);
}

#[test]
fn the_mapping_is_deterministic() {
    let mut o = order();
    o.refund_money = Some("7.77".into());
    o.lines.reverse();
    assert_eq!(map(&o), map(&o));
    let mut sorted = o.clone();
    sorted.lines.sort_by_key(|l| l.id);
    assert_eq!(map(&o), map(&sorted));
}

mod spread {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// For any lines and refund: the order loses exactly the unexplained
        /// refund, no line goes negative, and each line's share is the floor
        /// or the ceiling of its exact pro-rata part.
        #[test]
        fn exact_fen_and_fair_shares(cents in prop::collection::vec(1_i64..500_000, 1..8), refund_share in 1_u32..1000) {
            let mut o = order();
            o.lines = cents.iter().enumerate().map(|(i, c)| {
                line(i as i64 + 1, i as i64 + 1, 1, &format!("{}.{:02}", c / 100, c % 100))
            }).collect();
            let total: i64 = cents.iter().sum();
            o.cash = None;
            o.total = None;
            let refund = (i128::from(total) * i128::from(refund_share) / 1000) as i64;
            prop_assume!(refund > 0 && refund < total);
            o.refund_money = Some(format!("{}.{:02}", refund / 100, refund % 100));
            let (got, _) = live(&o);
            prop_assert_eq!(got.net_amount_fen, total - refund);
            for (l, c) in got.lines.iter().zip(&cents) {
                let share = c - l.net_amount_fen;
                let exact_floor = (i128::from(refund) * i128::from(*c) / i128::from(total)) as i64;
                prop_assert!(l.net_amount_fen >= 0);
                prop_assert!(share == exact_floor || share == exact_floor + 1, "share {} floor {}", share, exact_floor);
            }
        }
    }
}
