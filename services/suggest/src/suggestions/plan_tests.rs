//! Each type fires on a population built to hold its audience, and not on the
//! same population without it. The expected figures are worked out by hand in
//! the comments, not by the code under test.

use std::collections::{BTreeMap, BTreeSet};

use portrait_core::memory::{CustomerBook, Selection};
use portrait_core::{Acc, Segment, ThresholdRule, rfm_table};
use portrait_proto::v1::{Association, SuggestionType};

use crate::suggestions::fetched::CrossRules;
use portrait_service::SuggestSettings;

use super::{Figure, Inputs, Plan, plan};
use crate::customers::Row;
use crate::models::Score;

const AS_OF: i32 = 200;

/// (name, [(day, spend)], P(alive), expected purchases, predicted CLV).
type Who = (&'static str, &'static [(i32, i64)], f64, f64, f32);

/// R, F, M over all six (as of day 200): means 108.3 days, 2.33 orders,
/// ¥144.67; so vip is 重要价值, lapsed 重要挽留 (away 150 days), churn and
/// churn-alive 一般保持, new 一般发展, old-new 一般挽留.
const ALL: &[Who] = &[
    (
        "vip",
        &[(179, 10_000), (186, 10_000), (193, 10_000), (200, 10_000)],
        0.99,
        40.0,
        100_000.0,
    ),
    // Mean gap 10 days, away 170: overdue by the rule.
    (
        "churn",
        &[(10, 1_000), (20, 1_000), (30, 1_000)],
        0.1,
        2.0,
        500.0,
    ),
    (
        "churn-alive",
        &[(10, 1_000), (20, 1_000), (30, 1_000)],
        0.9,
        2.0,
        600.0,
    ),
    ("new", &[(190, 500)], 1.0, 3.0, 700.0),
    ("old-new", &[(50, 300)], 1.0, 0.5, 100.0),
    ("lapsed", &[(40, 20_000), (50, 20_000)], 0.3, 1.0, 9_000.0),
];

fn settings() -> SuggestSettings {
    SuggestSettings::defaults()
}

/// The plan of `who` minus `without`, with scores when `scored`.
fn plan_of(without: &[&str], scored: bool) -> Planned {
    plan_with(without, scored, Err("画像服务不可用"))
}

/// The profiler's cross-sell rules: (antecedent, consequent, customers).
type Rules<'a> = [(&'a str, &'a str, &'a [&'a str])];

/// The same with the profiler's cross-sell answer.
fn plan_with(without: &[&str], scored: bool, cross: Result<&Rules, &str>) -> Planned {
    let who: Vec<&Who> = ALL.iter().filter(|w| !without.contains(&w.0)).collect();
    let mut book = CustomerBook::default();
    for (name, days, ..) in &who {
        for (day, spend) in *days {
            book.add(
                name,
                0,
                *day,
                Acc {
                    orders: 1,
                    revenue: *spend,
                },
            );
        }
    }
    let aggs = book.aggs(&Selection::All, None, AS_OF + 1);
    let table = rfm_table(&aggs, AS_OF, ThresholdRule::Mean);
    let rows: Vec<Row> = (aggs.into_iter().zip(&table.customers))
        .map(|(agg, rfm)| Row::new(agg, rfm, AS_OF))
        .collect();
    let names = book.customers();
    let scores: BTreeMap<u32, Score> = (who.iter())
        .map(|w| {
            let s = Score {
                alive_probability: w.2,
                expected_purchases: w.3,
                expected_average_spend_fen: 0.0,
                predicted_clv_fen: w.4,
            };
            (names.get(w.0).expect("interned"), s)
        })
        .collect();
    let score = |c: u32| scores.get(&c).copied();
    let rank: Vec<u32> = {
        let mut rank = vec![0; names.len()];
        for (i, (_, c)) in names.sorted().enumerate() {
            rank[c as usize] = i as u32;
        }
        rank
    };
    let s = settings();
    // The profiler's rules (a, b, customers) as the fetch keeps them: dense ids.
    let cross_rules = cross.map(|rules| CrossRules {
        rules: (rules.iter())
            .map(|(a, b, ids)| {
                let rule = Association {
                    antecedent_id: (*a).into(),
                    consequent_id: (*b).into(),
                    count: 30,
                    lift: 2.5,
                    confidence: 0.4,
                    ..Association::default()
                };
                let mut dense: Vec<u32> = ids.iter().filter_map(|c| names.get(c)).collect();
                dense.sort_unstable();
                (rule, dense)
            })
            .collect(),
        incarnation: 0,
    });
    let inputs = Inputs {
        rows: &rows,
        score: scored.then_some(&score as &dyn Fn(u32) -> Option<Score>),
        book: &book,
        sel: &Selection::All,
        from: None,
        to: AS_OF + 1,
        settings: &s,
        cross: cross_rules.as_ref().map_err(|e| *e),
    };
    let ids: Vec<String> = rows
        .iter()
        .map(|r| names.name(r.agg.customer).to_owned())
        .collect();
    let plan = plan(&inputs);
    Planned {
        plan,
        ids,
        rows,
        rank,
    }
}

/// A plan with what orders its audiences: the rows and each id's rank.
struct Planned {
    plan: Plan,
    ids: Vec<String>,
    rows: Vec<Row>,
    rank: Vec<u32>,
}

impl Planned {
    fn names(&self, d: &super::Draft) -> Vec<&str> {
        let order = d.ordered(&self.rows, &self.rank);
        order
            .iter()
            .map(|&i| self.ids[i as usize].as_str())
            .collect()
    }
}

fn audience(p: &Planned, kind: SuggestionType) -> Option<Vec<&str>> {
    let d = p.plan.drafts.iter().find(|d| d.kind == kind)?;
    Some(p.names(d))
}

#[test]
fn each_type_fires_on_its_audience() {
    let p = plan_of(&[], true);
    // VIP: 重要价值 (vip), and the top ⌈6/10⌉ = 1 by CLV (vip again).
    assert_eq!(audience(&p, SuggestionType::VipService), Some(vec!["vip"]));
    // Churn: overdue and P(alive) < 0.5; churn-alive is overdue but alive.
    assert_eq!(
        audience(&p, SuggestionType::ChurnWarning),
        Some(vec!["churn"])
    );
    assert_eq!(
        audience(&p, SuggestionType::SecondPurchase),
        Some(vec!["new"])
    );
    assert_eq!(audience(&p, SuggestionType::WinBack), Some(vec!["lapsed"]));
    // Ordered by spend, most first, then id: churn and churn-alive tie.
    let keep: Vec<&str> = (p.plan.drafts.iter())
        .filter(|d| d.segment == Some(Segment::GeneralKeep))
        .flat_map(|d| p.names(d))
        .collect();
    assert_eq!(keep, ["churn", "churn-alive"]);
    let segments: BTreeSet<Segment> = p.plan.drafts.iter().filter_map(|d| d.segment).collect();
    let want = [
        Segment::ImportantValue,
        Segment::ImportantWinBack,
        Segment::GeneralDevelop,
        Segment::GeneralKeep,
        Segment::GeneralWinBack,
    ];
    assert_eq!(segments, want.into_iter().collect());
}

#[test]
fn figures_by_hand() {
    let p = plan_of(&[], true);
    let draft = |k| p.plan.drafts.iter().find(|d| d.kind == k).expect("draft");
    let churn = draft(SuggestionType::ChurnWarning);
    // Lost purchases 2 · 0.9 / 0.1 = 18 at AOV ¥10: ¥180 at risk, a ¥18 coupon.
    assert!((churn.figure(Figure::LostPurchases).unwrap() - 18.0).abs() < 1e-9);
    assert!((churn.value_at_stake - 18_000.0).abs() < 1e-6);
    assert_eq!(churn.figure(Figure::OfferFen), Some(1_800.0));
    // First to second order day: vip 7, churn 10, churn-alive 10, lapsed 10.
    let nurture = draft(SuggestionType::SecondPurchase);
    assert_eq!(nurture.figure(Figure::SecondOrderGapDays), Some(10.0));
    assert_eq!(nurture.figure(Figure::GapSample), Some(4.0));
    assert_eq!(nurture.figure(Figure::OfferFen), Some(100.0));
    let vip = draft(SuggestionType::VipService);
    // ¥400 of the chain's ¥868.
    assert_eq!(vip.figure(Figure::SpendFen), Some(40_000.0));
    assert!((vip.figure(Figure::SpendShare).unwrap() - 40_000.0 / 86_800.0).abs() < 1e-12);
    assert_eq!(vip.figure(Figure::StoreOrders), Some(4.0));
    assert_eq!(vip.figure(Figure::ClvThresholdFen), Some(100_000.0));
    let win_back = draft(SuggestionType::WinBack);
    // AOV ¥200: a fifth is ¥40.
    assert_eq!(win_back.figure(Figure::OfferFen), Some(4_000.0));
    assert_eq!(win_back.figure(Figure::MeanRecencyDays), Some(150.0));
}

#[test]
fn no_audience_no_suggestion() {
    let none = |without: &[&str], scored: bool, kind| {
        let p = plan_of(without, scored);
        assert_eq!(audience(&p, kind), None, "{kind:?} without {without:?}");
    };
    none(&["churn"], true, SuggestionType::ChurnWarning);
    none(&["new"], true, SuggestionType::SecondPurchase);
    none(&["lapsed"], true, SuggestionType::WinBack);
    // Without a 重要价值 customer and without scores there is no top decile.
    none(&["vip"], false, SuggestionType::VipService);
    // No fit in service: no churn warning, and the answer says why.
    let p = plan_of(&[], false);
    assert_eq!(audience(&p, SuggestionType::ChurnWarning), None);
    assert!(p.plan.notes.iter().any(|n| n.contains("流失预警")));
    // The types are all still there with their audiences present.
    assert!(audience(&plan_of(&["vip"], true), SuggestionType::VipService).is_some());
}

#[test]
fn recommendations_reach_the_filters_customers_without_the_consequent() {
    let cross: &[(&str, &str, &[&str])] = &[
        // "elsewhere" has no order in the filter: not reached.
        ("p1", "p2", &["elsewhere", "new", "lapsed"]),
        ("p3", "p4", &["elsewhere"]),
    ];
    let p = plan_with(&[], true, Ok(cross));
    let drafts: Vec<_> = (p.plan.drafts.iter())
        .filter(|d| d.kind == SuggestionType::Recommendation)
        .collect();
    assert_eq!(
        drafts.len(),
        1,
        "the rule without an audience does not fire"
    );
    let d = drafts[0];
    let who = p.names(d);
    assert_eq!(who, ["lapsed", "new"], "by spend, most first");
    assert_eq!(d.figure(Figure::Lift), Some(2.5));
    assert_eq!(d.figure(Figure::RuleCount), Some(30.0));
    // ¥405 over 3 orders.
    assert_eq!(d.figure(Figure::AovFen), Some(40_500.0 / 3.0));
    // No rules, or no answer: no recommendation, and the notes say why.
    for p in [plan_with(&[], true, Ok(&[])), plan_of(&[], true)] {
        assert!(
            p.plan
                .drafts
                .iter()
                .all(|d| d.kind != SuggestionType::Recommendation)
        );
        assert!(
            p.plan.notes.iter().any(|n| n.starts_with("个性化推荐")),
            "{:?}",
            p.plan.notes
        );
    }
}

#[test]
fn without_the_profiler_the_words_say_what_is_left_out() {
    use crate::suggestions::fetched::{Habits, Held};
    use crate::suggestions::text::{Context, words};
    let p = plan_of(&[], true);
    let settings = settings();
    let down: Held<portrait_proto::v1::GroupPatterns> = Err("画像服务不可用（Unavailable）".into());
    let habits = Habits::of(down.clone(), down);
    let x = Context {
        settings: &settings,
        habits: &habits,
        store: None,
        rate: 0.1,
    };
    for d in &p.plan.drafts {
        let (title, content, omitted) = words(d, &x);
        assert!(!title.is_empty() && !content.is_empty(), "{:?}", d.kind);
        let habitual = matches!(
            d.kind,
            SuggestionType::VipService | SuggestionType::SegmentStrategy | SuggestionType::WinBack
        );
        assert_eq!(
            omitted.len(),
            usize::from(habitual),
            "{:?}: {omitted:?}",
            d.kind
        );
        assert!(
            omitted.iter().all(|o| o.contains("Unavailable")),
            "{omitted:?}"
        );
    }
}

#[test]
fn the_words_use_the_habits_held_and_say_when_the_items_are_missing() {
    use crate::suggestions::fetched::{Habits, Held};
    use crate::suggestions::text::{Context, words};
    use portrait_proto::v1::{
        GroupPattern, GroupPatterns, HourBucket, PatternChannel, PatternItem,
    };
    let group = |key: &str| GroupPattern {
        key: key.into(),
        customers: 3,
        hours: vec![
            HourBucket {
                hour: 12,
                orders: 5,
                revenue_fen: 0,
            },
            HourBucket {
                hour: 18,
                orders: 2,
                revenue_fen: 0,
            },
        ],
        channels: vec![PatternChannel {
            channel: 3,
            orders: 4,
            ..PatternChannel::default()
        }],
        categories: vec![PatternItem {
            name: "套餐".into(),
            ..PatternItem::default()
        }],
        products: vec![PatternItem {
            name: "牛肉面".into(),
            ..PatternItem::default()
        }],
        ..GroupPattern::default()
    };
    let full = GroupPatterns {
        groups: (1..=8)
            .filter_map(|s| portrait_proto::v1::Segment::try_from(s).ok())
            .map(|s| group(s.as_str_name()))
            .collect(),
        ..GroupPatterns::default()
    };
    let mut rhythm = full.clone();
    rhythm.items_omitted = true;
    for g in &mut rhythm.groups {
        g.categories.clear();
        g.products.clear();
    }
    let held = |p: GroupPatterns| -> Held<GroupPatterns> { Ok((std::sync::Arc::new(p), 1)) };
    let late: Held<GroupPatterns> = Err("画像服务仍在计算，稍后刷新可见".into());
    let p = plan_of(&[], true);
    let settings = settings();
    let habitual = |k| {
        matches!(
            k,
            SuggestionType::VipService | SuggestionType::SegmentStrategy | SuggestionType::WinBack
        )
    };
    assert!(p.plan.drafts.iter().filter(|d| habitual(d.kind)).count() >= 2);
    for (habits, items) in [
        (Habits::of(held(full.clone()), late.clone()), true),
        // With both held the full answer is used.
        (Habits::of(held(full), held(rhythm.clone())), true),
        (Habits::of(late.clone(), held(rhythm)), false),
    ] {
        let x = Context {
            settings: &settings,
            habits: &habits,
            store: None,
            rate: 0.1,
        };
        for d in p.plan.drafts.iter().filter(|d| habitual(d.kind)) {
            let (_, content, omitted) = words(d, &x);
            let hour = content.contains("最常在 12 点下单，主要渠道美团");
            match d.kind {
                // Win-back names the categories only.
                SuggestionType::WinBack => assert_eq!(content.contains("常买：套餐"), items),
                _ => assert!(hour, "{:?}: {content}", d.kind),
            }
            assert_eq!(content.contains("偏爱套餐，常点牛肉面"), items && hour);
            match items {
                true => assert!(omitted.is_empty(), "{:?}: {omitted:?}", d.kind),
                false => assert!(
                    omitted.len() == 1
                        && omitted[0].contains("品类与商品")
                        && omitted[0].contains("仍在计算"),
                    "{:?}: {omitted:?}",
                    d.kind
                ),
            }
        }
    }
}
