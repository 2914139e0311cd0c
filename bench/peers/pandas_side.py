"""The pandas half of the bench/peers comparisons: one measured operation, one JSON line on stdout.

csv FILE      time pandas.read_csv (dates parsed, so the output types match Strata's) and report peak RSS
profile FILE  read the CSV (not timed), then time the statistics Strata's profile holds:
              describe() + value_counts() + quantiles + nunique() + null counts + histograms
"""
import json
import resource
import sys
import time

import numpy as np
import pandas as pd


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def csv(path):
    start = time.perf_counter()
    df = pd.read_csv(path, parse_dates=["date"])
    seconds = time.perf_counter() - start
    return {"engine": "pandas", "pandas": pd.__version__, "rows": len(df), "seconds": round(seconds, 4),
            "rows_per_s": round(len(df) / seconds), "peak_rss_mb": peak_rss_mb()}


def profile(path):
    df = pd.read_csv(path, parse_dates=["date"])
    start = time.perf_counter()
    df.describe(include="all", datetime_is_numeric=True)
    for column in df.columns:
        df[column].value_counts()
    numeric = df.select_dtypes(include=["number", "datetime"])
    numeric.quantile([0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99], numeric_only=False)
    df.nunique()
    df.isna().sum()
    for column in df.select_dtypes(include=["number"]).columns:
        np.histogram(df[column].to_numpy(), bins=10)
    seconds = time.perf_counter() - start
    return {"engine": "pandas", "rows": len(df), "seconds": round(seconds, 4), "peak_rss_mb": peak_rss_mb()}


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    print(json.dumps({"csv": csv, "profile": profile}[mode](path)))
