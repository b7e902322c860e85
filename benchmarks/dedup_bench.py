"""Near-duplicate detection: harness against plain datasketch, in the same run.

    python benchmarks/dedup_bench.py [--records 20000] [--threshold 0.8] [--num-perm 128] [--shingle-size 3]

A generated corpus (Zipf-distributed words, instruction-sized texts) gets
near-duplicate copies planted at known Jaccard similarities on both sides of the
threshold. What a dedup step outputs is clusters, so both methods' duplicate
pairs go through the same union-find, and the clusters are scored against the
true clusters: the connected components of the graph of pairs whose exact
Jaccard similarity of shingle sets reaches the threshold. That graph holds every
planted-family pair at or over the threshold, plus any other pair either method
reports that is (random texts share no shingles, so no other true pair exists to
miss). Precision and recall are over pairs of rows put in one cluster.

Reference: datasketch's ``MinHash.update_batch`` per record on the same shingles
and a ``MinHashLSH`` with the same num_perm and threshold (insert all, query
each). Each method runs in a fresh process so peak RSS is its own.

When ../shared/data/ holds the real instruction data sets, both methods also run
on them; there, recall is measured against the true pairs either method finds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.data.dedup.clusters import connected_components  # noqa: E402
from harness.data.dedup.lsh import candidate_pairs, duplicate_edges, lsh_parameters  # noqa: E402
from harness.data.dedup.minhash import minhash_signatures, shingles  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
PLANTED_SIMILARITIES = (0.97, 0.92, 0.87, 0.83, 0.72, 0.6, 0.45)


def generate_corpus(n: int, seed: int, shingle_size: int) -> list[str]:
    """n base texts, plus edited copies of a fifth of them at the planted similarities."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(30_000)])
    weights = 1.0 / np.arange(1, vocab.size + 1) ** 1.05
    weights /= weights.sum()
    py = random.Random(seed)
    texts = []
    for _ in range(n):
        length = int(rng.integers(30, 120))
        texts.append(" ".join(vocab[rng.choice(vocab.size, size=length, p=weights)]))
    for i in range(0, n, 5):
        base = texts[i].split()
        for target in py.sample(PLANTED_SIMILARITIES, 2):
            texts.append(_edit_to_similarity(base, target, py, shingle_size))
    return texts


def _edit_to_similarity(words: list[str], target: float, rng: random.Random, k: int) -> str:
    """Replace words one at a time until the shingle Jaccard falls to the target."""
    original = set(shingles(" ".join(words), k))
    copy = list(words)
    while True:
        candidate = set(shingles(" ".join(copy), k))
        similarity = len(original & candidate) / len(original | candidate)
        if similarity <= target:
            return " ".join(copy)
        copy[rng.randrange(len(copy))] = f"x{rng.randrange(10**9)}"


def exact_jaccard(texts: list[str], k: int, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], float]:
    cache: dict[int, set[bytes]] = {}

    def sets(i: int) -> set[bytes]:
        if i not in cache:
            cache[i] = set(shingles(texts[i], k))
        return cache[i]

    return {(i, j): len(sets(i) & sets(j)) / max(1, len(sets(i) | sets(j))) for i, j in pairs}


def run_harness(texts: list[str], threshold: float, num_perm: int, k: int) -> set[tuple[int, int]]:
    """What harness's near-dedup step does: signatures, LSH candidates, verified cluster edges."""
    params = lsh_parameters(threshold, num_perm)
    signatures = minhash_signatures(texts, num_perm=num_perm, seed=1, shingle_size=k)
    edges, _ = duplicate_edges(signatures, candidate_pairs(signatures, params), threshold)
    return {(int(i), int(j)) for i, j in edges}


def run_datasketch(texts: list[str], threshold: float, num_perm: int, k: int) -> set[tuple[int, int]]:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    sketches = []
    for i, text in enumerate(texts):
        m = MinHash(num_perm=num_perm, seed=1)
        m.update_batch(shingles(text, k))
        lsh.insert(i, m)
        sketches.append(m)
    pairs = set()
    for i, m in enumerate(sketches):
        for j in lsh.query(m):
            if j != i:
                pairs.add((min(i, j), max(i, j)))
    return pairs


def co_cluster_pairs(n: int, edges: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """Every pair of rows that union-find over these edges puts in one cluster."""
    labels = connected_components(n, np.array(sorted(edges), dtype=np.int64).reshape(-1, 2))
    clusters: dict[int, list[int]] = {}
    for i in np.nonzero(np.bincount(labels, minlength=n)[labels] > 1)[0]:
        clusters.setdefault(int(labels[i]), []).append(int(i))
    return {(a, b) for members in clusters.values() for x, a in enumerate(members) for b in members[x + 1 :]}


def _worker(method: str, texts: list[str], args: dict, queue: mp.Queue) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    run = run_harness if method == "harness" else run_datasketch
    pairs = run(texts, args["threshold"], args["num_perm"], args["shingle_size"])
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"pairs": sorted(pairs), "seconds": seconds, "peak_mib": peak / 1024, "delta_mib": (peak - before) / 1024})


def measure(method: str, texts: list[str], args: dict) -> dict:
    context = mp.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_worker, args=(method, texts, args, queue))
    process.start()
    result = queue.get()
    process.join()
    result["pairs"] = {tuple(p) for p in result["pairs"]}
    return result


def score(pairs: set, truth: set) -> tuple[float, float]:
    hits = len(pairs & truth)
    precision = hits / len(pairs) if pairs else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall


def compare(name: str, texts: list[str], args: dict, planted_truth: set | None) -> dict:
    results = {m: measure(m, texts, args) for m in ("harness", "datasketch")}
    reported = results["harness"]["pairs"] | results["datasketch"]["pairs"]
    similarity = exact_jaccard(texts, args["shingle_size"], reported)
    truth_edges = {p for p, s in similarity.items() if s >= args["threshold"]} | (planted_truth or set())
    truth = co_cluster_pairs(len(texts), truth_edges)
    print(f"\n== {name}: {len(texts):,} records, {len(truth_edges):,} true duplicate pairs "
          f"(Jaccard >= {args['threshold']}), {len(truth):,} co-cluster pairs ==")
    print(f"{'method':<12}{'precision':>10}{'recall':>8}{'records/s':>12}{'seconds':>9}{'peak RSS MiB':>14}")
    rows = {}
    for method, r in results.items():
        precision, recall = score(co_cluster_pairs(len(texts), r["pairs"]), truth)
        rate = len(texts) / r["seconds"]
        rows[method] = {"precision": precision, "recall": recall, "records_per_s": rate, "seconds": r["seconds"],
                        "peak_rss_mib": r["peak_mib"], "pairs": len(r["pairs"])}
        print(f"{method:<12}{precision:>10.4f}{recall:>8.4f}{rate:>12,.0f}{r['seconds']:>9.2f}{r['peak_mib']:>14.0f}")
    ratio = rows["harness"]["records_per_s"] / rows["datasketch"]["records_per_s"]
    print(f"throughput ratio harness / datasketch: {ratio:.1f}x")
    return {"records": len(texts), "true_pairs": len(truth_edges), "co_cluster_pairs": len(truth), "methods": rows,
            "speedup": ratio}


def planted_truth(texts: list[str], n_base: int, args: dict) -> set[tuple[int, int]]:
    """All within-family pairs at or over the threshold (families: a base and its copies)."""
    families: dict[int, list[int]] = {}
    copy = n_base
    for i in range(0, n_base, 5):
        families[i] = [i, copy, copy + 1]
        copy += 2
    pairs = {(min(a, b), max(a, b)) for members in families.values() for a in members for b in members if a < b}
    similarity = exact_jaccard(texts, args["shingle_size"], pairs)
    return {p for p, s in similarity.items() if s >= args["threshold"]}


def real_texts() -> dict[str, list[str]]:
    sets = {}
    alpaca = SHARED / "alpaca"
    files = [alpaca / "alpaca_5000.json", alpaca / "llamafactory_alpaca_en_demo.json", SHARED / "alpaca_cleaned" / "gsm_8k_train.json"]
    rows = []
    for path in files:
        if path.is_file():
            rows += json.loads(path.read_text())
    if rows:
        sets["alpaca_5000 + llamafactory demo + gsm8k (real)"] = [
            "\n".join(filter(None, (r.get("instruction"), r.get("input"), r.get("output")))) for r in rows]
    else:
        print(f"(real data not found under {SHARED}; skipping the real-data run)")
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--shingle-size", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=ROOT / "reports" / "bench" / "dedup_bench.json")
    parser.add_argument("--no-real", action="store_true", help="skip the ../shared real-data run")
    opts = parser.parse_args()
    args = {"threshold": opts.threshold, "num_perm": opts.num_perm, "shingle_size": opts.shingle_size}
    params = lsh_parameters(opts.threshold, opts.num_perm)
    print(f"threshold {opts.threshold}, num_perm {opts.num_perm}, {opts.shingle_size}-word shingles; "
          f"harness LSH: {params.bands} bands x {params.rows} rows (candidates from ~{params.effective_threshold:.2f}), "
          f"exact verification of uncertain candidates")
    texts = generate_corpus(opts.records, opts.seed, opts.shingle_size)
    report = {"args": args, "generated": compare("generated corpus", texts, args, planted_truth(texts, opts.records, args))}
    if not opts.no_real:
        for name, real in real_texts().items():
            report[name] = compare(name, real, args, None)
    generated = report["generated"]["methods"]["harness"]
    goal = (report["generated"]["speedup"] >= 10 and generated["precision"] >= 0.95 and generated["recall"] >= 0.95)
    print(f"\ngoal (>= 10x datasketch, precision and recall >= 0.95 on the generated corpus): {'met' if goal else 'NOT met'}")
    opts.json.parent.mkdir(parents=True, exist_ok=True)
    opts.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {opts.json}")


if __name__ == "__main__":
    main()
