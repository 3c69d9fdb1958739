"""Other engines read lumbar's store and results (issue 18, item 5).

DuckDB and polars read the store's tables over its hive partitions
(`TABLE/bucket=NNN/part-….parquet`) and an analysis table, and must agree
with lumbar's manifest and with each other; the bucket each engine reads
from a folder name must be the one the documented hash gives the patient
(lumbar_model::partition: FNV-1a 64 then splitmix64's finaliser, mod the
manifest's bucket count), so another engine can reproduce the partition.

    python tests/engines/check.py OUT   # OUT: the output folder of `lumbar run datasets/batch-demo.toml`
"""

import json
import sys
from pathlib import Path

import duckdb
import polars as pl

MASK = (1 << 64) - 1


def bucket_of(patient_id: str, buckets: int) -> int:
    h = 0xCBF29CE484222325
    for b in patient_id.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & MASK
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & MASK
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & MASK
    h ^= h >> 31
    return h % buckets


def main(out: Path) -> None:
    store = out / "ingest/result/store"
    manifest = json.loads((store / "manifest.json").read_text())
    buckets = manifest["buckets"]
    con = duckdb.connect()
    for table in ["patients", "sessions", "walking", "outcomes", "followup"]:
        listed = sum(p["added"] for p in manifest["parts"] if p["table"] == table)
        glob = str(store / table / "*" / "*.parquet")
        duck = con.sql(
            f"SELECT CAST(bucket AS INTEGER) AS bucket, patient_id, count(*) AS n "
            f"FROM read_parquet('{glob}', hive_partitioning = true) GROUP BY ALL"
        ).pl()
        lazy = pl.scan_parquet(store / table, hive_partitioning=True)
        pol = (
            lazy.group_by(pl.col("bucket").cast(pl.Int32), "patient_id")
            .agg(pl.len().cast(pl.Int64).alias("n"))
            .collect()
        )
        assert duck["n"].sum() == listed, (table, duck["n"].sum(), listed)
        assert pol["n"].sum() == listed, (table, pol["n"].sum(), listed)
        key = ["bucket", "patient_id"]
        assert duck.sort(key).equals(pol.sort(key).select(duck.columns)), table
        wrong = [
            (b, p) for b, p in zip(duck["bucket"], duck["patient_id"]) if bucket_of(p, buckets) != b
        ]
        assert not wrong, (table, wrong[:5])
        print(f"{table}: {listed} rows in {duck['bucket'].n_unique()} buckets, "
              "DuckDB = polars = manifest, every patient in its hash's bucket")
    # A result table: the same rows through both engines.
    result = out / "analyze/result/adherence_patients.parquet"
    duck = con.sql(f"SELECT * FROM read_parquet('{result}')").pl()
    pol = pl.scan_parquet(result).collect()
    assert duck.equals(pol), "adherence_patients differs between DuckDB and polars"
    print(f"adherence_patients: {pol.height} rows, DuckDB = polars")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
