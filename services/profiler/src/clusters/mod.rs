//! Customer clusters: k-means++ (the models crate) over each customer's
//! recency, orders and spend (logged) and their channel, hour-band and
//! top-category shares, all standardised; k from 2 to 6 by silhouette.
//! Computed in the background on a schedule and on demand; every customer
//! then carries its cluster's number.

mod export;
mod features;
mod habits;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use portrait_core::memory::Selection;
use portrait_core::{Calendar, Day};
use portrait_models::kmeans::{CustomerFeatures, Segmentation, Settings, segment};
use portrait_proto::v1::{ClusterProfile, ClusterStatus, Clusters};
use portrait_service::{QueryContext, Result};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::ProfilerProjection;
use features::{Habits, TOP_CATEGORIES};

/// k-means runs on at most this many customers (evenly spaced by id); every
/// customer is then given its nearest centroid.
pub(crate) const SAMPLE: usize = 20_000;
pub(crate) const KS: std::ops::RangeInclusive<usize> = 2..=6;
pub(crate) const SETTINGS: Settings = Settings {
    seed: 7,
    restarts: 3,
    max_iterations: 100,
    silhouette_sample: 3000,
};
const EVERY: Duration = Duration::from_secs(3600);

/// The clusters in service: the answer and each dense customer's cluster.
struct Held {
    /// Moves with every computation served, so answers built on the labels
    /// can be cached by it.
    generation: u64,
    answer: Clusters,
    /// Cluster number (1..k) per dense customer id; 0 = none.
    labels: Vec<u8>,
    /// What `ExportCustomerLabels` serves: the customers clustered, by dense
    /// id in id order, each one's main channel (by dense id), and the
    /// generation's name, unique across restarts.
    members: Vec<u32>,
    main_channel: Vec<u8>,
    export: String,
    /// The state incarnation the dense ids belong to.
    incarnation: u64,
}

impl Held {
    fn empty() -> Self {
        Self {
            generation: 0,
            answer: Clusters::default(),
            labels: Vec::new(),
            members: Vec::new(),
            main_channel: Vec::new(),
            export: String::new(),
            incarnation: 0,
        }
    }
}

pub struct ClusterBook {
    projection: Arc<ProfilerProjection>,
    ctx: QueryContext,
    held: RwLock<Option<Arc<Held>>>,
    computing: tokio::sync::Mutex<()>,
}

impl ClusterBook {
    pub fn new(projection: Arc<ProfilerProjection>, ctx: QueryContext) -> Self {
        Self {
            projection,
            ctx,
            held: RwLock::new(None),
            computing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn spawn_schedule(self: &Arc<Self>, shutdown: CancellationToken) {
        let book = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = book.recompute(None).await {
                    warn!(error = %e, "scheduled clustering failed");
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(EVERY) => {}
                }
            }
        });
    }

    /// The clusters in service, if computed on the state as it is: labels
    /// by dense id mean nothing once the state was replaced whole.
    fn held(&self) -> Option<Arc<Held>> {
        let now = self.projection.live.incarnation();
        (self
            .held
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
        .filter(|h| h.incarnation == now)
    }

    pub fn answer(&self) -> Clusters {
        self.held().map(|h| h.answer.clone()).unwrap_or_default()
    }

    /// The clusters in service, each dense customer's cluster number (0 =
    /// none), and the computation's generation.
    pub fn labels(&self) -> (Clusters, Vec<u8>, u64) {
        self.held().map_or_else(Default::default, |h| {
            (h.answer.clone(), h.labels.clone(), h.generation)
        })
    }

    /// The generation of the clusters in service; 0 before the first.
    pub fn generation(&self) -> u64 {
        self.held().map_or(0, |h| h.generation)
    }

    /// A customer's cluster and its description; (0, "") when none.
    pub fn of(&self, customer: u32) -> (i32, String) {
        let Some(h) = self.held() else {
            return (0, String::new());
        };
        match h.labels.get(customer as usize).copied().unwrap_or(0) {
            0 => (0, String::new()),
            l => {
                let d = (h.answer.clusters.get(usize::from(l) - 1))
                    .map(|c| c.description.clone())
                    .unwrap_or_default();
                (i32::from(l), d)
            }
        }
    }

    /// Computes the clusters as of `as_of` (default today) and serves them.
    pub async fn recompute(&self, as_of: Option<&str>) -> Result<Clusters> {
        let today = self.ctx.calendar().day(portrait_service::now_ms());
        let as_of = match as_of.filter(|d| !d.is_empty()) {
            Some(d) => Calendar::parse_day("as_of_date", d)?,
            None => today,
        };
        let _one = self.computing.lock().await;
        let live = &self.projection.live;
        let (mut habits, incarnation) = {
            let (state, _) = live.read();
            let habits = features::order_habits(&state.customers.book, as_of)?;
            (habits, live.incarnation())
        };
        let id_of = |name: &str| live.read().0.customers.book.customers().get(name);
        let top = features::category_habits(self.ctx.store(), as_of, id_of, &mut habits).await?;
        let rows = {
            let (state, _) = live.read();
            if live.incarnation() != incarnation {
                // Dense ids were handed out anew (a rebuild): the habits'
                // ids are another state's.
                return Err(portrait_service::Error::NotReady(
                    "the serving state was replaced while clustering; ask again".to_owned(),
                ));
            }
            let days = &state.days;
            let names: Vec<String> = (top.iter())
                .map(
                    |id| match days.category_id(id).map(|c| days.category(c).1) {
                        Some(name) if !name.is_empty() => name.to_owned(),
                        _ => id.clone(),
                    },
                )
                .collect();
            let book = &state.customers.book;
            let mut main_channel = vec![0_u8; book.customers().len()];
            let rows = (book.customers().sorted())
                .filter_map(|(_, c)| {
                    let agg = book.agg(c, &Selection::All, None, as_of + 1)?;
                    main_channel[c as usize] = export::main_channel(&habits.get(c));
                    Some(Row::from(&agg))
                })
                .collect::<Vec<_>>();
            (rows, names, main_channel, incarnation)
        };
        let (rows, names, main_channel, incarnation) = rows;
        let members: Vec<u32> = rows.iter().map(|a| a.customer).collect();
        let customers = Customers {
            rows,
            habits,
            as_of,
        };
        let held = tokio::task::spawn_blocking(move || cluster(&customers, top, names))
            .await
            .map_err(|e| portrait_service::Error::Corrupt(format!("clustering panicked: {e}")))?;
        let held = Held {
            members,
            main_channel,
            incarnation,
            ..held
        };
        info!(
            customers = held.answer.customers,
            k = held.answer.k,
            status = held.answer.status,
            "clusters computed"
        );
        let mut held = held;
        let keep = held.answer.status == ClusterStatus::Computed as i32 || self.held().is_none();
        if keep {
            let mut slot = self.held.write().unwrap_or_else(PoisonError::into_inner);
            held.generation = slot.as_ref().map_or(0, |h| h.generation) + 1;
            held.export = format!("{}-{}", portrait_service::now_ms(), held.generation);
            held.answer.generation.clone_from(&held.export);
            let answer = held.answer.clone();
            *slot = Some(Arc::new(held));
            return Ok(answer);
        }
        Ok(held.answer)
    }
}

/// What a customer's features take from their aggregate: 24 bytes a
/// customer instead of the aggregate's 32 (a clustering holds one for each).
pub(crate) struct Row {
    customer: u32,
    last_day: Day,
    orders: i64,
    revenue: i64,
}

impl From<&portrait_core::CustomerAgg> for Row {
    fn from(a: &portrait_core::CustomerAgg) -> Self {
        Self {
            customer: a.customer,
            last_day: a.last_day,
            orders: a.orders,
            revenue: a.revenue,
        }
    }
}

/// The documented features of one customer (see `Clusters`).
pub(crate) fn features_of(agg: &Row, h: &Habits, as_of: Day) -> CustomerFeatures {
    let share = |part: i64, whole: i64| {
        if whole > 0 {
            part as f64 / whole as f64
        } else {
            0.0
        }
    };
    let orders = i64::from(h.orders);
    let mut extra: Vec<f64> = (h.channels.iter())
        .map(|c| share(i64::from(*c), orders))
        .collect();
    extra.extend(h.bands.iter().map(|b| share(i64::from(*b), orders)));
    extra.extend(h.categories.iter().map(|c| share(*c, h.line_spend)));
    CustomerFeatures {
        recency: f64::from(as_of - agg.last_day),
        frequency: agg.orders as f64,
        monetary: agg.revenue.max(0) as f64,
        extra,
    }
}

/// The customers to cluster, by name, and what their features are made of.
/// Features are made when needed rather than held: a million customers'
/// feature vectors took 180 MB besides the habits (measured with heaptrack).
struct Customers {
    rows: Vec<Row>,
    habits: habits::HabitBook,
    as_of: Day,
}

impl Customers {
    fn features(&self, i: usize) -> CustomerFeatures {
        let agg = &self.rows[i];
        features_of(agg, &self.habits.get(agg.customer), self.as_of)
    }
}

/// Every ⌈n / SAMPLE⌉-th customer in id order: the ones k-means runs on.
pub(crate) fn sample_indices(n: usize) -> Vec<usize> {
    let step = n.div_ceil(SAMPLE).max(1);
    (0..n).step_by(step).collect()
}

fn cluster(customers: &Customers, top: Vec<String>, names: Vec<String>) -> Held {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    let rows = &customers.rows;
    let mut answer = Clusters {
        computed_at: now,
        as_of_date: Calendar::format_day(customers.as_of),
        customers: rows.len() as i64,
        first_k: *KS.start() as i32,
        categories: top,
        ..Clusters::default()
    };
    let picked: Vec<CustomerFeatures> = (sample_indices(rows.len()).into_iter())
        .map(|i| customers.features(i))
        .collect();
    answer.sampled = picked.len() as i64;
    if picked.len() < *KS.end() {
        answer.status = ClusterStatus::NotEnoughData as i32;
        answer.reason = format!(
            "{} customers; at least {} are needed",
            picked.len(),
            KS.end()
        );
        return Held {
            answer,
            ..Held::empty()
        };
    }
    let s = match segment(&picked, KS, &SETTINGS) {
        Ok(s) => s,
        Err(e) => {
            answer.status = ClusterStatus::Failed as i32;
            answer.reason = e.to_string();
            return Held {
                answer,
                ..Held::empty()
            };
        }
    };
    let labels = label_all(customers, &picked, &s);

    answer.status = ClusterStatus::Computed as i32;
    answer.k = s.k as i32;
    answer.silhouette = s.silhouette;
    answer.candidate_silhouettes = s.candidates.iter().map(|(_, v)| *v).collect();
    let total = rows.len().max(1) as f64;
    answer.clusters = (s.segments.iter().enumerate())
        .map(|(j, seg)| {
            let customers = labels.iter().filter(|l| usize::from(**l) == j + 1).count();
            let (channels, rest) = seg.extra.split_at(5.min(seg.extra.len()));
            let (bands, cats) = rest.split_at(5.min(rest.len()));
            ClusterProfile {
                cluster: j as i32 + 1,
                customers: customers as i64,
                share: customers as f64 / total,
                recency_days: seg.recency,
                orders: seg.frequency,
                spend_fen: seg.monetary,
                channel_shares: channels.to_vec(),
                hour_band_shares: bands.to_vec(),
                category_shares: cats.to_vec(),
                description: describe(seg, &s, &names),
            }
        })
        .collect();
    Held {
        answer,
        labels,
        ..Held::empty()
    }
}

/// Each customer's nearest centroid, in the standardised space the
/// clustering used (its mean and scale, recomputed from the sample).
fn label_all(customers: &Customers, picked: &[CustomerFeatures], s: &Segmentation) -> Vec<u8> {
    let Ok(std) = portrait_models::kmeans::standardise(picked) else {
        return Vec::new();
    };
    let centroids: Vec<Vec<f64>> = (0..s.k)
        .map(|j| {
            let members: Vec<&Vec<f64>> = (s.labels.iter().zip(&std.points))
                .filter(|(l, _)| **l == j)
                .map(|(_, p)| p)
                .collect();
            let dim = std.mean.len();
            (0..dim)
                .map(|d| members.iter().map(|p| p[d]).sum::<f64>() / members.len().max(1) as f64)
                .collect()
        })
        .collect();
    let rows = &customers.rows;
    let max = rows
        .iter()
        .map(|a| a.customer as usize + 1)
        .max()
        .unwrap_or(0);
    let mut labels = vec![0_u8; max];
    let sampled = sample_indices(rows.len());
    for (i, c) in rows.iter().map(|a| a.customer).enumerate() {
        // A customer k-means ran on keeps its label.
        if let Ok(at) = sampled.binary_search(&i) {
            labels[c as usize] = u8::try_from(s.labels[at] + 1).unwrap_or(0);
            continue;
        }
        let f = customers.features(i);
        let mut point = vec![f.recency.ln_1p(), f.frequency.ln_1p(), f.monetary.ln_1p()];
        point.extend_from_slice(&f.extra);
        for (d, v) in point.iter_mut().enumerate() {
            *v = (*v - std.mean[d]) / std.scale[d];
        }
        let nearest = (centroids.iter().enumerate())
            .map(|(j, m)| {
                (
                    j,
                    m.iter()
                        .zip(&point)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>(),
                )
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0, |(j, _)| j);
        labels[c as usize] = u8::try_from(nearest + 1).unwrap_or(0);
    }
    labels
}

/// A cluster in words: recency and frequency against the other clusters,
/// then its dominant hour band, channel and category.
fn describe(
    seg: &portrait_models::kmeans::Segment,
    s: &Segmentation,
    categories: &[String],
) -> String {
    const BANDS: [&str; 5] = ["早餐时段", "午餐时段", "下午茶时段", "晚餐时段", "夜宵时段"];
    const CHANNELS: [&str; 5] = ["微信小程序", "门店收银", "美团", "饿了么", "抖音"];
    // The upper median for "high", the lower one for "recent" (fewer days is
    // better), so with two clusters exactly one is each.
    let median = |f: &dyn Fn(&portrait_models::kmeans::Segment) -> f64, upper: bool| {
        let mut v: Vec<f64> = s.segments.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[if upper {
            v.len() / 2
        } else {
            (v.len() - 1) / 2
        }]
    };
    let recent = if seg.recency <= median(&|x| x.recency, false) {
        "近期活跃"
    } else {
        "久未到店"
    };
    let frequent = if seg.frequency >= median(&|x| x.frequency, true) {
        "高频"
    } else {
        "低频"
    };
    let spend = if seg.monetary >= median(&|x| x.monetary, true) {
        "高消费"
    } else {
        "低消费"
    };
    let top = |v: &[f64]| {
        (v.iter().enumerate())
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
    };
    let extra = &seg.extra;
    let mut habits = Vec::new();
    if let Some(b) = top(extra.get(5..10).unwrap_or(&[])) {
        habits.push(BANDS[b].to_owned());
    }
    if let Some(c) = top(extra.get(0..5).unwrap_or(&[])) {
        habits.push(CHANNELS[c].to_owned());
    }
    if let Some(k) = top(extra
        .get(10..10 + TOP_CATEGORIES.min(categories.len()))
        .unwrap_or(&[]))
    {
        habits.push(categories[k].clone());
    }
    format!(
        "{recent} · {frequent} · {spend} · {}为主",
        habits.join("、")
    )
}
