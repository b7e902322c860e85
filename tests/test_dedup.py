import random

import numpy as np
import polars as pl
import pytest
from datasketch import MinHash, MinHashLSH

from harness.config import NearDedupConfig
from harness.data.dedup.clusters import connected_components
from harness.data.dedup.exact import conflicting_responses, exact_duplicates
from harness.data.dedup.lsh import LshParameterError, candidate_pairs, lsh_parameters
from harness.data.dedup.minhash import minhash_signatures, shingle_hash32, shingles
from harness.data.dedup.near import near_duplicates

VOCAB = [f"w{i}" for i in range(5000)]


def doc(rng: random.Random, n: int = 60) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(n)]


def records(texts: list[str], extra: dict | None = None) -> pl.DataFrame:
    n = len(texts)
    data = {"row_id": list(range(n)), "source_file": ["f"] * n, "source_line": list(range(1, n + 1)),
            "prompt_text": ["" for _ in texts], "response_text": texts, "_response_chars": [len(t) for t in texts],
            "_quality": [0.5] * n, "flags": [[] for _ in texts]} | (extra or {})
    return pl.DataFrame(data, schema_overrides={"flags": pl.List(pl.String)})


@pytest.mark.parametrize(("num_perm", "seed", "k"), [(128, 1, 3), (64, 7, 5), (256, 42, 1)])
def test_signatures_are_bit_identical_to_datasketch(num_perm, seed, k):
    rng = random.Random(seed)
    texts = [" ".join(doc(rng, rng.randint(0, 40))) for _ in range(30)] + ["Ünïcode wörds, ÄND punctuation!", "one"]
    signatures = minhash_signatures(texts, num_perm=num_perm, seed=seed, shingle_size=k)
    for i, text in enumerate(texts):
        reference = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash32)
        if shingles(text, k):
            reference.update_batch(shingles(text, k))
        assert np.array_equal(reference.hashvalues, signatures.values[i]), text


def test_lsh_parameters_match_datasketch_and_refuse_nonsense():
    params = lsh_parameters(0.8, 128, false_negative_weight=0.5)
    reference = MinHashLSH(threshold=0.8, num_perm=128)
    assert (params.bands, params.rows) == (reference.b, reference.r)
    assert abs(params.effective_threshold - (1 / params.bands) ** (1 / params.rows)) < 1e-12
    with pytest.raises(LshParameterError, match="far from the threshold"):
        lsh_parameters(0.9, 128, bands=64, rows=2)
    with pytest.raises(LshParameterError, match="exceeds num_perm"):
        lsh_parameters(0.8, 64, bands=10, rows=10)


def test_planted_near_duplicates_are_found_and_unrelated_texts_are_not():
    rng = random.Random(3)
    bases = [doc(rng) for _ in range(200)]
    texts = [" ".join(b) for b in bases]
    planted = {}
    for i in range(0, 40, 2):
        copy = list(bases[i])
        copy[rng.randrange(len(copy))] = "changed"
        planted[len(texts)] = i
        texts.append(" ".join(copy))
    result = near_duplicates(records(texts), config=NearDedupConfig(), keep="first")
    dropped = dict(zip(result.rejects["row_id"].to_list(), result.rejects["kept_row_id"].to_list(), strict=True))
    assert dropped == planted
    assert set(result.rejects["reason"]) == {"near_duplicate"}
    clusters = result.clusters
    assert clusters.height == 2 * len(planted)
    assert (clusters.filter(pl.col("action") == "dropped")["similarity"] >= 0.8).all()


def test_flag_mode_keeps_everyone_and_marks_them():
    texts = ["alpha beta gamma delta epsilon zeta eta theta iota kappa"] * 1 + [
        "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda", "something else entirely here"]
    result = near_duplicates(records(texts), config=NearDedupConfig(action="flag", threshold=0.7), keep="first")
    assert result.kept.height == 3 and result.rejects.is_empty()
    assert result.kept["flags"].to_list() == [["near_duplicate"], ["near_duplicate"], []]


def test_keep_policy_longest():
    texts = ["the cat sat on the mat today", "The cat sat on the mat today!", "THE CAT SAT ON THE MAT TODAY!!!"]
    result = exact_duplicates(records(texts), fields=["response"], keep="longest")
    assert result.kept["row_id"].to_list() == [2]
    assert result.rejects["kept_row_id"].to_list() == [2, 2]
    assert set(result.clusters["cluster_id"]) == {0}


def test_conflicting_responses_policies():
    f = records(["Paris.", "Lyon.", "Paris", "Rome."], {"prompt_text": ["Capital of France?"] * 3 + ["Capital of Italy?"]})
    keep_all = conflicting_responses(f, policy="keep_all", keep="first")
    assert keep_all.kept.height == 4 and keep_all.stats["groups"] == 1
    assert keep_all.kept["flags"].to_list()[:3] == [["conflicting_response"]] * 3
    keep_one = conflicting_responses(f, policy="keep_one", keep="first")
    assert keep_one.kept["row_id"].to_list() == [0, 3]
    drop_all = conflicting_responses(f, policy="drop_all", keep="first")
    assert drop_all.kept["row_id"].to_list() == [3]


def test_union_find_and_bucket_pairs():
    assert connected_components(5, np.array([[0, 3], [3, 4]])).tolist() == [0, 1, 2, 0, 0]
    signatures = minhash_signatures(["a b c d e f g", "a b c d e f g", "x y z"], num_perm=32, shingle_size=2)
    pairs = candidate_pairs(signatures, lsh_parameters(0.8, 32))
    assert pairs.tolist() == [[0, 1]]


def test_templated_clique_becomes_one_cluster_with_few_exact_checks():
    from harness.data.dedup.lsh import duplicate_edges

    base = "please summarise the quarterly report for the board and list the three main risks in order"
    texts = [f"{base} case {i}" for i in range(60)] + ["an unrelated sentence about gardens and bees in spring"]
    signatures = minhash_signatures(texts, num_perm=128, shingle_size=3)
    pairs = candidate_pairs(signatures, lsh_parameters(0.8, 128))
    edges, checked = duplicate_edges(signatures, pairs, 0.8)
    assert len(pairs) > 1000
    assert len(edges) == 59 and checked < 200
    assert set(connected_components(len(texts), edges)[:60]) == {0}


def test_pairs_below_threshold_are_not_edges():
    from harness.data.dedup.lsh import duplicate_edges, jaccard

    rng = random.Random(9)
    words = doc(rng, 40)
    copy = list(words)
    for position in range(0, 40, 5):
        copy[position] = "other"
    signatures = minhash_signatures([" ".join(words), " ".join(copy)], num_perm=128, shingle_size=3)
    assert jaccard(signatures, 0, 1) < 0.8
    edges, _ = duplicate_edges(signatures, np.array([[0, 1]]), 0.8)
    assert edges.shape == (0, 2)
