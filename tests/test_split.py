import polars as pl

from harness.config import SplitConfig
from harness.data.split import assign_splits

NO_LINKS = pl.DataFrame(schema={"kind": pl.String, "cluster_id": pl.Int64, "row_id": pl.Int64})


def test_ratios_and_determinism():
    f = pl.DataFrame({"row_id": range(1000)})
    a = assign_splits(f, config=SplitConfig(), seed=1, stratify_by=None, links=NO_LINKS)
    b = assign_splits(f, config=SplitConfig(), seed=1, stratify_by=None, links=NO_LINKS)
    c = assign_splits(f, config=SplitConfig(), seed=2, stratify_by=None, links=NO_LINKS)
    assert a.equals(b) and not a.equals(c)
    assert dict(a.group_by("split").len().iter_rows()) == {"train": 700, "validation": 150, "test": 150}


def test_linked_rows_never_straddle_splits():
    f = pl.DataFrame({"row_id": range(300)})
    links = pl.DataFrame({"kind": ["near"] * 90, "cluster_id": [i // 3 * 3 for i in range(90)], "row_id": range(90)})
    out = assign_splits(f, config=SplitConfig(), seed=5, stratify_by=None, links=links)
    per_cluster = out.head(90).with_columns(pl.Series("c", [i // 3 for i in range(90)])).group_by("c").agg(
        pl.col("split").n_unique())
    assert per_cluster["split"].max() == 1


def test_stratified_by_label():
    labels = ["pos"] * 800 + ["neg"] * 200
    f = pl.DataFrame({"row_id": range(1000), "label": labels})
    out = assign_splits(f, config=SplitConfig(train=0.8, validation=0.1, test=0.1), seed=3, stratify_by="label", links=NO_LINKS)
    shares = out.group_by("split").agg((pl.col("label") == "neg").mean().alias("neg"))
    assert all(abs(v - 0.2) < 1e-9 for v in shares["neg"])
