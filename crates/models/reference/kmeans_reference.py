#!/usr/bin/env python3
"""k-means and silhouette reference from scikit-learn.

    kmeans_reference.py --features FILE.csv --ks 2,3,4 [--labels-dir DIR] [--n-init 50]
        FILE.csv: header recency,frequency,monetary. The features are transformed the way
        portrait-models documents (log1p, then StandardScaler) by scikit-learn / numpy here,
        and KMeans(k-means++, n_init restarts, random_state=0) is run for each k. When
        DIR/labels_<k>.txt exists (one label per line, same row order), the silhouette of
        those labels is computed with sklearn.metrics.silhouette_score.
        Prints JSON {"<k>": {"inertia": ..., "silhouette_of_labels": ...}}.
"""
import argparse
import json
import os
import sys

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", required=True)
    ap.add_argument("--ks", required=True)
    ap.add_argument("--labels-dir")
    ap.add_argument("--n-init", type=int, default=50)
    args = ap.parse_args()
    df = pd.read_csv(args.features)
    X = StandardScaler().fit_transform(np.log1p(df[["recency", "frequency", "monetary"]].to_numpy(float)))
    out = {}
    for k in [int(v) for v in args.ks.split(",")]:
        km = KMeans(n_clusters=k, init="k-means++", n_init=args.n_init, random_state=0).fit(X)
        entry = {"inertia": float(km.inertia_)}
        if args.labels_dir:
            path = os.path.join(args.labels_dir, "labels_%d.txt" % k)
            if os.path.exists(path):
                labels = np.loadtxt(path, dtype=int)
                entry["silhouette_of_labels"] = float(silhouette_score(X, labels))
        out[str(k)] = entry
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
