import polars as pl

from harness.config import SplitConfig
from harness.data.split import assign_splits

NO_LINKS = pl.DataFrame(schema={"kind": pl.String, "cluster_id": pl.Int64, "row_id": pl.Int64})


def rows(n: int, start: int = 0, **extra) -> pl.DataFrame:
    return pl.DataFrame({"row_id": range(start, start + n), "prompt_text": [f"question {i}" for i in range(start, start + n)],
                         "response_text": [f"answer {i}" for i in range(start, start + n)], **extra})


def test_ratios_and_determinism():
    f = rows(1000)
    a = assign_splits(f, config=SplitConfig(), seed=1, stratify_by=None, links=NO_LINKS)
    b = assign_splits(f, config=SplitConfig(), seed=1, stratify_by=None, links=NO_LINKS)
    c = assign_splits(f, config=SplitConfig(), seed=2, stratify_by=None, links=NO_LINKS)
    assert a.equals(b) and not a.equals(c)
    sizes = dict(a.group_by("split").len().iter_rows())
    assert abs(sizes["train"] - 700) < 45 and abs(sizes["validation"] - 150) < 35 and abs(sizes["test"] - 150) < 35


def test_adding_data_never_moves_existing_rows():
    before = assign_splits(rows(300), config=SplitConfig(), seed=3, stratify_by=None, links=NO_LINKS)
    grown = pl.concat([rows(200, start=1000), rows(300)]).with_columns(pl.int_range(pl.len()).alias("row_id"))
    after = assign_splits(grown, config=SplitConfig(), seed=3, stratify_by=None, links=NO_LINKS)
    old = dict(before.select("prompt_text", "split").iter_rows())
    assert all(old[p] == s for p, s in after.select("prompt_text", "split").iter_rows() if p in old)


def test_linked_rows_never_straddle_splits():
    f = rows(300)
    links = pl.DataFrame({"kind": ["near"] * 90, "cluster_id": [i // 3 * 3 for i in range(90)], "row_id": range(90)})
    out = assign_splits(f, config=SplitConfig(), seed=5, stratify_by=None, links=links)
    per_cluster = out.head(90).with_columns(pl.Series("c", [i // 3 for i in range(90)])).group_by("c").agg(
        pl.col("split").n_unique())
    assert per_cluster["split"].max() == 1


def test_stratified_by_label():
    f = rows(1000, label=["pos"] * 800 + ["neg"] * 200)
    out = assign_splits(f, config=SplitConfig(train=0.8, validation=0.1, test=0.1), seed=3, stratify_by="label",
                        links=NO_LINKS)
    shares = out.group_by("split").agg((pl.col("label") == "neg").mean().alias("neg"))
    assert all(abs(v - 0.2) < 0.01 for v in shares["neg"])
