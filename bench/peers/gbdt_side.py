#!/usr/bin/python3
"""Peer side of train_vs_xgboost.sh: data preparation and the XGBoost / sklearn HGB runs, each in its own process.

  gbdt_side.py prepare flights OUT FLIGHTS_CSV_GZ ORIGIN_FEATURES_CSV_GZ   # train.csv, test.csv (features as train_xgb builds them)
  gbdt_side.py prepare synthetic OUT                                        # train.f32, test.f32 (train_xgb's 1M x 50 + 200k)
  gbdt_side.py xgb TRAIN TEST [THREADS]    # XGBoost hist, train_xgb's parameters; one JSON line
  gbdt_side.py hgb TRAIN TEST              # sklearn HistGradientBoostingClassifier, train_xgb's parameters; one JSON line

The data sets come from ../shared/peers/train_xgb.py (imported, not copied). .f32 files: b"SF32", int32 rows, int32
features, row-major float32 features, int32 labels. CSV files: the features, then the label column "y".
"""
import json, os, resource, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.environ.get("STRATA_PEERS", os.path.join(HERE, "..", "..", "..", "shared", "peers"))
sys.path.insert(0, PEERS)
os.environ.setdefault("OMP_NUM_THREADS", "2")
import numpy as np  # noqa: E402


def write_f32(path, X, y):
    X = np.ascontiguousarray(X, dtype=np.float32)
    with open(path + ".part", "wb") as fh:
        fh.write(b"SF32")
        fh.write(np.array([X.shape[0], X.shape[1]], dtype="<i4").tobytes())
        fh.write(X.tobytes())
        fh.write(np.asarray(y, dtype="<i4").tobytes())
    os.replace(path + ".part", path)


def read(path):
    if path.endswith(".f32"):
        with open(path, "rb") as fh:
            assert fh.read(4) == b"SF32", path
            n, d = np.frombuffer(fh.read(8), dtype="<i4")
            X = np.fromfile(fh, dtype="<f4", count=int(n) * int(d)).reshape(int(n), int(d))
            y = np.fromfile(fh, dtype="<i4", count=int(n))
        return X, y
    import pandas as pd
    df = pd.read_csv(path, dtype=np.float32)
    y = df.pop("y").to_numpy(dtype=np.int32)
    return df, y


def prepare(kind, out, args):
    import train_xgb
    os.makedirs(out, exist_ok=True)
    if kind == "flights":
        X, y, tr, te, _ = train_xgb.flights(args[0], args[1])
        for name, mask in (("train", tr), ("test", te)):
            part = X[mask].copy()
            part["y"] = y[mask]
            part.to_csv(os.path.join(out, name + ".csv.part"), index=False, float_format="%.9g")
            os.replace(os.path.join(out, name + ".csv.part"), os.path.join(out, name + ".csv"))
    else:
        X, y, tr, te, _ = train_xgb.synthetic()
        X = X.to_numpy(dtype=np.float32)
        write_f32(os.path.join(out, "train.f32"), X[tr], y[tr])
        write_f32(os.path.join(out, "test.f32"), X[te], y[te])
    print(json.dumps({"prepared": kind, "rows_train": int(tr.sum()), "rows_test": int(te.sum()), "features": int(X.shape[1])}))


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)  # Linux: KiB


def main():
    mode = sys.argv[1]
    if mode == "prepare":
        return prepare(sys.argv[2], sys.argv[3], sys.argv[4:])
    import train_xgb
    from sklearn.metrics import roc_auc_score
    t0 = time.perf_counter()
    Xtr, ytr = read(sys.argv[2])
    Xte, yte = read(sys.argv[3])
    load_s = time.perf_counter() - t0
    res = {"rows_train": int(len(ytr)), "rows_test": int(len(yte)), "features": int(Xtr.shape[1]), "load_s": round(load_s, 2)}
    if mode == "xgb":
        import xgboost as xgb
        threads = int(sys.argv[4]) if len(sys.argv) > 4 else train_xgb.THREADS
        params = {"objective": "binary:logistic", "tree_method": "hist", "max_depth": train_xgb.DEPTH, "eta": train_xgb.ETA,
                  "nthread": threads, "max_bin": 256}
        t0 = time.perf_counter()
        dtr = xgb.DMatrix(Xtr, label=ytr, nthread=threads)
        t1 = time.perf_counter()
        bst = xgb.train(params, dtr, num_boost_round=train_xgb.ROUNDS)
        t2 = time.perf_counter()
        p = bst.predict(xgb.DMatrix(Xte, nthread=threads))
        res.update(engine="xgboost", version=xgb.__version__, dmatrix_s=round(t1 - t0, 3), train_s=round(t2 - t1, 3))
    else:
        from sklearn.ensemble import HistGradientBoostingClassifier
        hgb = HistGradientBoostingClassifier(max_iter=train_xgb.ROUNDS, learning_rate=train_xgb.ETA, max_depth=train_xgb.DEPTH,
                                             max_leaf_nodes=31, max_bins=255, early_stopping=False, random_state=0)
        t0 = time.perf_counter()
        hgb.fit(Xtr, ytr)
        t1 = time.perf_counter()
        p = hgb.predict_proba(Xte)[:, 1]
        res.update(engine="sklearn_hgb", version=__import__("sklearn").__version__, train_s=round(t1 - t0, 3))
    res["auc"] = round(float(roc_auc_score(yte, p)), 5)
    res["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
