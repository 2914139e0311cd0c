#!/usr/bin/python3
"""SciPy side of drift_vs_scipy.sh: runs ../shared/peers/drift_scipy.py's own ks_2samp and psi on its own data (same
seed and shifts) and prints one JSON line with the times, the indices of the flagged features and the peak RSS."""
import json, os, resource, sys, time

sys.path.insert(0, sys.argv[1])
import numpy as np  # noqa: E402
from scipy.stats import ks_2samp  # noqa: E402
import drift_scipy as peer  # noqa: E402


def main():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((peer.D, peer.N))
    cur = rng.standard_normal((peer.D, peer.N))
    cur[:10] += 0.05
    cur[10:15] *= 1.1
    t0 = time.perf_counter()
    ks = [ks_2samp(ref[j], cur[j]) for j in range(peer.D)]
    t1 = time.perf_counter()
    ps = [peer.psi(ref[j], cur[j]) for j in range(peer.D)]
    t2 = time.perf_counter()
    print(json.dumps({
        "ks_s": round(t1 - t0, 3), "psi_s": round(t2 - t1, 3), "seconds": round(t2 - t0, 3),
        "ks_flagged_p_lt_0.01": [j for j, k in enumerate(ks) if k.pvalue < 0.01],
        "psi_flagged_gt_0.001": [j for j, p in enumerate(ps) if p > 0.001],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
