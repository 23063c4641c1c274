//! Customer segments: k-means++ (fixed seed, several restarts) on standardised log recency,
//! log frequency and log monetary value plus optional share features; k chosen by silhouette;
//! each cluster described by its centroid in original units.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::{Error, Result};

/// Tuning of the clustering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub seed: u64,
    /// Independent k-means++ starts; the one with the lowest inertia wins.
    pub restarts: usize,
    pub max_iterations: usize,
    /// Above this many points the silhouette is computed on a seeded sample of them.
    pub silhouette_sample: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            seed: 0,
            restarts: 10,
            max_iterations: 300,
            silhouette_sample: 3000,
        }
    }
}

/// A k-means solution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clustering {
    pub centroids: Vec<Vec<f64>>,
    pub labels: Vec<usize>,
    /// Sum of squared distances of points to their centroid.
    pub inertia: f64,
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn check_points(points: &[Vec<f64>]) -> Result<usize> {
    let dim = points
        .first()
        .map(Vec::len)
        .ok_or(Error::Empty("no points to cluster"))?;
    if dim == 0 {
        return Err(Error::Argument {
            name: "points",
            reason: "points have no coordinates".into(),
        });
    }
    for (index, p) in points.iter().enumerate() {
        if p.len() != dim {
            return Err(Error::Invalid {
                index,
                reason: format!("{} coordinates, expected {dim}", p.len()),
            });
        }
        if p.iter().any(|v| !v.is_finite()) {
            return Err(Error::NotFinite {
                field: "coordinate",
                index,
            });
        }
    }
    Ok(dim)
}

/// k-means with greedy k-means++ seeding (Arthur & Vassilvitskii 2007; each new centre is the
/// best of 2 + ⌊ln k⌋ D²-sampled candidates) and Lloyd iterations, best of `restarts` starts.
pub fn kmeans(points: &[Vec<f64>], k: usize, settings: &Settings) -> Result<Clustering> {
    check_points(points)?;
    if k == 0 || k > points.len() {
        return Err(Error::Argument {
            name: "k",
            reason: format!("{k} clusters for {} points", points.len()),
        });
    }
    let mut rng = StdRng::seed_from_u64(settings.seed);
    let mut best: Option<Clustering> = None;
    for _ in 0..settings.restarts.max(1) {
        let centroids = seed_plus_plus(points, k, &mut rng);
        let c = lloyd(points, centroids, settings.max_iterations);
        if best.as_ref().is_none_or(|b| c.inertia < b.inertia) {
            best = Some(c);
        }
    }
    best.ok_or(Error::Empty("no k-means start"))
}

fn seed_plus_plus(points: &[Vec<f64>], k: usize, rng: &mut StdRng) -> Vec<Vec<f64>> {
    let n = points.len();
    let trials = 2 + (k as f64).ln() as usize;
    let mut centroids = vec![points[rng.random_range(0..n)].clone()];
    let mut closest: Vec<f64> = points.iter().map(|p| dist2(p, &centroids[0])).collect();
    while centroids.len() < k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let candidate = if total > 0.0 {
                let mut target = rng.random::<f64>() * total;
                let mut pick = n - 1;
                for (i, d) in closest.iter().enumerate() {
                    target -= d;
                    if target <= 0.0 {
                        pick = i;
                        break;
                    }
                }
                pick
            } else {
                rng.random_range(0..n)
            };
            let new: Vec<f64> = points
                .iter()
                .zip(&closest)
                .map(|(p, &d)| d.min(dist2(p, &points[candidate])))
                .collect();
            let potential: f64 = new.iter().sum();
            if best.as_ref().is_none_or(|b| potential < b.0) {
                best = Some((potential, candidate, new));
            }
        }
        if let Some((_, candidate, new)) = best {
            centroids.push(points[candidate].clone());
            closest = new;
        }
    }
    centroids
}

fn lloyd(points: &[Vec<f64>], mut centroids: Vec<Vec<f64>>, max_iterations: usize) -> Clustering {
    let (n, k, dim) = (points.len(), centroids.len(), points[0].len());
    let mut labels = vec![usize::MAX; n];
    for _ in 0..max_iterations.max(1) {
        let mut changed = false;
        for (p, label) in points.iter().zip(labels.iter_mut()) {
            let nearest = nearest(p, &centroids).0;
            if nearest != *label {
                *label = nearest;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let mut sums = vec![vec![0.0; dim]; k];
        let mut counts = vec![0usize; k];
        for (p, &l) in points.iter().zip(&labels) {
            counts[l] += 1;
            sums[l].iter_mut().zip(p).for_each(|(s, v)| *s += v);
        }
        for j in 0..k {
            if counts[j] > 0 {
                centroids[j] = sums[j].iter().map(|s| s / counts[j] as f64).collect();
            } else {
                // An emptied cluster takes the point worst served by its centroid.
                let far = (0..n)
                    .max_by(|&a, &b| {
                        dist2(&points[a], &centroids[labels[a]])
                            .total_cmp(&dist2(&points[b], &centroids[labels[b]]))
                    })
                    .unwrap_or(0);
                centroids[j] = points[far].clone();
                labels[far] = j;
            }
        }
    }
    let inertia = points
        .iter()
        .zip(&labels)
        .map(|(p, &l)| dist2(p, &centroids[l]))
        .sum();
    Clustering {
        centroids,
        labels,
        inertia,
    }
}

fn nearest(p: &[f64], centroids: &[Vec<f64>]) -> (usize, f64) {
    centroids
        .iter()
        .enumerate()
        .map(|(j, c)| (j, dist2(p, c)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((0, f64::INFINITY))
}

/// Mean silhouette (Rousseeuw 1987) with Euclidean distances; a point alone in its cluster
/// scores 0. Above `sample` points, the mean is over a seeded sample of them (each still
/// compared with every point).
pub fn silhouette(points: &[Vec<f64>], labels: &[usize], sample: usize, seed: u64) -> Result<f64> {
    check_points(points)?;
    if labels.len() != points.len() {
        return Err(Error::Argument {
            name: "labels",
            reason: "one label per point needed".into(),
        });
    }
    let k = labels.iter().max().map_or(0, |m| m + 1);
    if k < 2 {
        return Err(Error::Argument {
            name: "labels",
            reason: "silhouette needs two clusters".into(),
        });
    }
    let mut sizes = vec![0usize; k];
    labels.iter().for_each(|&l| sizes[l] += 1);
    let chosen: Vec<usize> = if points.len() <= sample {
        (0..points.len()).collect()
    } else {
        let mut rng = StdRng::seed_from_u64(seed);
        rand::seq::index::sample(&mut rng, points.len(), sample).into_vec()
    };
    let mut total = 0.0;
    for &i in &chosen {
        let mut sums = vec![0.0; k];
        for (p, &l) in points.iter().zip(labels) {
            sums[l] += dist2(&points[i], p).sqrt();
        }
        let own = labels[i];
        if sizes[own] <= 1 {
            continue;
        }
        let a = sums[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|&j| j != own && sizes[j] > 0)
            .map(|j| sums[j] / sizes[j] as f64)
            .fold(f64::INFINITY, f64::min);
        let denom = a.max(b);
        if denom > 0.0 && b.is_finite() {
            total += (b - a) / denom;
        }
    }
    Ok(total / chosen.len() as f64)
}

/// One customer's clustering features. Recency (periods since the last purchase), frequency
/// (purchases) and monetary value must be ≥ 0; they are clustered as ln(1 + v). `extra` holds
/// optional features already on a comparable scale (channel or daypart shares), used as is.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerFeatures {
    pub recency: f64,
    pub frequency: f64,
    pub monetary: f64,
    pub extra: Vec<f64>,
}

/// A cluster in the units a marketer reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub size: usize,
    /// Centroid mapped back: exp of the standardised-log centroid minus 1, i.e. the typical
    /// (geometric-mean-like) recency, frequency and monetary value of the cluster.
    pub recency: f64,
    pub frequency: f64,
    pub monetary: f64,
    pub extra: Vec<f64>,
}

/// The chosen segmentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segmentation {
    pub k: usize,
    pub silhouette: f64,
    /// (k, silhouette) for every k tried.
    pub candidates: Vec<(usize, f64)>,
    pub inertia: f64,
    pub labels: Vec<usize>,
    pub segments: Vec<Segment>,
}

/// The standardised feature matrix and how to map it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardised {
    pub points: Vec<Vec<f64>>,
    pub mean: Vec<f64>,
    /// Population standard deviation; 1 for a constant column (as scikit-learn's StandardScaler).
    pub scale: Vec<f64>,
}

/// ln(1 + ·) of recency, frequency and monetary value, then every column to mean 0, sd 1.
pub fn standardise(customers: &[CustomerFeatures]) -> Result<Standardised> {
    let extra = customers
        .first()
        .ok_or(Error::Empty("no customers to cluster"))?
        .extra
        .len();
    let mut rows = Vec::with_capacity(customers.len());
    for (index, c) in customers.iter().enumerate() {
        for (field, v) in [
            ("recency", c.recency),
            ("frequency", c.frequency),
            ("monetary", c.monetary),
        ] {
            if !v.is_finite() {
                return Err(Error::NotFinite { field, index });
            }
            if v < 0.0 {
                return Err(Error::Invalid {
                    index,
                    reason: format!("negative {field} {v}"),
                });
            }
        }
        if c.extra.len() != extra {
            return Err(Error::Invalid {
                index,
                reason: format!("{} extra features, expected {extra}", c.extra.len()),
            });
        }
        if c.extra.iter().any(|v| !v.is_finite()) {
            return Err(Error::NotFinite {
                field: "extra",
                index,
            });
        }
        let mut row = vec![c.recency.ln_1p(), c.frequency.ln_1p(), c.monetary.ln_1p()];
        row.extend_from_slice(&c.extra);
        rows.push(row);
    }
    let (n, dim) = (rows.len() as f64, 3 + extra);
    let mean: Vec<f64> = (0..dim)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let scale: Vec<f64> = (0..dim)
        .map(|j| {
            let var = rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
            if var > 0.0 { var.sqrt() } else { 1.0 }
        })
        .collect();
    for r in &mut rows {
        for j in 0..dim {
            r[j] = (r[j] - mean[j]) / scale[j];
        }
    }
    Ok(Standardised {
        points: rows,
        mean,
        scale,
    })
}

/// Cluster customers for every k in `ks`, keep the k with the best silhouette, and describe
/// its clusters in original units.
pub fn segment(
    customers: &[CustomerFeatures],
    ks: std::ops::RangeInclusive<usize>,
    settings: &Settings,
) -> Result<Segmentation> {
    let std = standardise(customers)?;
    if *ks.start() < 2 || ks.is_empty() || *ks.end() > customers.len() {
        return Err(Error::Argument {
            name: "ks",
            reason: format!(
                "k must run within 2..={} (the number of customers)",
                customers.len()
            ),
        });
    }
    let mut best: Option<(f64, usize, Clustering)> = None;
    let mut candidates = Vec::new();
    for k in ks {
        let c = kmeans(&std.points, k, settings)?;
        let s = silhouette(
            &std.points,
            &c.labels,
            settings.silhouette_sample,
            settings.seed,
        )?;
        candidates.push((k, s));
        if best.as_ref().is_none_or(|b| s > b.0) {
            best = Some((s, k, c));
        }
    }
    let (silhouette, k, c) = best.ok_or(Error::Empty("no k to try"))?;
    let segments = c
        .centroids
        .iter()
        .enumerate()
        .map(|(j, centroid)| {
            let orig: Vec<f64> = centroid
                .iter()
                .enumerate()
                .map(|(d, v)| v * std.scale[d] + std.mean[d])
                .collect();
            Segment {
                size: c.labels.iter().filter(|&&l| l == j).count(),
                recency: orig[0].exp_m1(),
                frequency: orig[1].exp_m1(),
                monetary: orig[2].exp_m1(),
                extra: orig[3..].to_vec(),
            }
        })
        .collect();
    Ok(Segmentation {
        k,
        silhouette,
        candidates,
        inertia: c.inertia,
        labels: c.labels,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Vec<Vec<f64>> {
        let mut rng = StdRng::seed_from_u64(1);
        let centres = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]];
        (0..300)
            .map(|i| {
                let c = centres[i % 3];
                vec![
                    c[0] + rng.random::<f64>() - 0.5,
                    c[1] + rng.random::<f64>() - 0.5,
                ]
            })
            .collect()
    }

    #[test]
    fn finds_separated_blobs_and_is_deterministic() {
        let p = blobs();
        let a = kmeans(&p, 3, &Settings::default()).unwrap();
        let b = kmeans(&p, 3, &Settings::default()).unwrap();
        assert_eq!(a, b);
        // Each blob is one cluster: points i and i+3 always share a label.
        assert!((0..297).all(|i| a.labels[i] == a.labels[i + 3]));
        assert!(silhouette(&p, &a.labels, 1000, 0).unwrap() > 0.9);
    }

    #[test]
    fn segment_picks_k_by_silhouette_and_reports_original_units() {
        let mk = |r: f64, f: f64, m: f64| CustomerFeatures {
            recency: r,
            frequency: f,
            monetary: m,
            extra: vec![],
        };
        let customers: Vec<CustomerFeatures> = (0..60)
            .map(|i| {
                if i % 2 == 0 {
                    mk(2.0, 20.0, 300.0)
                } else {
                    mk(200.0, 1.0, 10.0)
                }
            })
            .collect();
        let s = segment(&customers, 2..=4, &Settings::default()).unwrap();
        assert_eq!(s.k, 2);
        let mut segs = s.segments.clone();
        segs.sort_by(|a, b| a.recency.total_cmp(&b.recency));
        assert!((segs[0].recency - 2.0).abs() < 1e-9 && (segs[0].monetary - 300.0).abs() < 1e-9);
        assert!((segs[1].frequency - 1.0).abs() < 1e-9 && segs[1].size == 30);
    }

    #[test]
    fn bad_input_is_an_error() {
        let mk = |r: f64| CustomerFeatures {
            recency: r,
            frequency: 1.0,
            monetary: 1.0,
            extra: vec![],
        };
        assert!(matches!(
            segment(&[], 2..=3, &Settings::default()),
            Err(Error::Empty(_))
        ));
        assert!(
            segment(
                &[mk(1.0), mk(f64::NAN), mk(2.0)],
                2..=2,
                &Settings::default()
            )
            .is_err()
        );
        assert!(segment(&[mk(1.0), mk(-1.0), mk(2.0)], 2..=2, &Settings::default()).is_err());
        assert!(segment(&[mk(1.0), mk(2.0)], 2..=5, &Settings::default()).is_err());
        assert!(kmeans(&[vec![1.0], vec![f64::INFINITY]], 1, &Settings::default()).is_err());
        assert!(kmeans(&[vec![1.0], vec![1.0, 2.0]], 1, &Settings::default()).is_err());
        assert!(kmeans(&[vec![1.0]], 2, &Settings::default()).is_err());
    }
}
