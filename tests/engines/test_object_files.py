"""The native file source on object storage (moto's S3 server on 127.0.0.1) and on Parquet."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_dativo import runner
from airflow_provider_dativo.config.loader import ConfigRoot
from airflow_provider_dativo.engines import RejectedRecords, StateUpdate
from airflow_provider_dativo.engines.native.files import FileSource, FileSourceConfig
from tests.conftest import write
from tests.services import S3Server


def parquet_bytes(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=2)
    return out.getvalue()


def s3_options(server: S3Server) -> dict[str, str]:
    return {"endpoint": server.endpoint, "region": server.region,
            "access_key_id": server.access_key, "secret_access_key": server.secret_key}


def read_all(source: FileSource, state: dict | None = None):
    batches, rejects, states = [], [], []
    for item in source.read("s", state):
        if isinstance(item, StateUpdate):
            states.append(dict(item.state))
        elif isinstance(item, RejectedRecords):
            rejects.append(item)
        else:
            batches.append(item)
    return batches, rejects, states


def test_s3_glob_reads_each_file_version_once(tmp_path: Path, s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    s3 = s3_server.client()
    s3.put_object(Bucket=bucket, Key="in/2026/a.csv", Body=b"id,name\n1,ana\n2,bo,extra\n")
    s3.put_object(Bucket=bucket, Key="in/2026/b.jsonl", Body=b'{"id": 3, "name": "chen"}\n')
    s3.put_object(Bucket=bucket, Key="in/2026/c.parquet", Body=parquet_bytes(
        pa.table({"id": [4, 5, 6], "name": ["d", "e", None]})))
    s3.put_object(Bucket=bucket, Key="in/2026/deeper/d.csv", Body=b"id\n99\n")  # '*' stays put
    s3.put_object(Bucket=bucket, Key="other/x.csv", Body=b"id\n100\n")
    source = FileSource(FileSourceConfig(root=tmp_path, path=f"s3://{bucket}/in/*/*.*",
                                         s3=s3_options(s3_server)))
    assert [f.key for f in source.files()] == [f"s3://{bucket}/in/2026/{n}"
                                               for n in ("a.csv", "b.jsonl", "c.parquet")]
    assert source.check().ok
    batches, rejects, states = read_all(source)
    ids = sorted(str(v) for b in batches for v in b.column("id").to_pylist())
    assert ids == ["1", "3", "4", "5", "6"]
    parquet = [b for b in batches if b.schema.field("id").type == pa.int64()]
    assert len(parquet) == 2  # row group by row group, in the file's own types
    assert rejects[0].raw == ("2,bo,extra",)
    assert rejects[0].reasons[0].startswith(f"s3://{bucket}/in/2026/a.csv:3: ")
    assert set(states[-1]["files"]) == {f.key for f in source.files()}

    assert read_all(source, states[-1])[0] == []  # nothing new
    s3.put_object(Bucket=bucket, Key="in/2026/e.csv", Body=b"id,name\n7,fay\n")
    batches, _, _ = read_all(source, states[-1])
    assert [r["id"] for b in batches for r in b.to_pylist()] == ["7"]

    deep = FileSource(FileSourceConfig(root=tmp_path, path=f"s3://{bucket}/in/**/*.csv",
                                       s3=s3_options(s3_server)))
    assert [f.key.rsplit("/", 1)[1] for f in deep.files()] == ["a.csv", "d.csv", "e.csv"]


def test_unreachable_or_empty_locations_fail_the_check(tmp_path: Path,
                                                      s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    empty = FileSource(FileSourceConfig(root=tmp_path, path=f"s3://{bucket}/none/*.csv",
                                        s3=s3_options(s3_server)))
    status = empty.check()
    assert not status.ok and "no file matches" in status.message
    down = FileSource(FileSourceConfig(root=tmp_path, path="s3://b/x/*.csv",
                                       s3={**s3_options(s3_server),
                                           "endpoint": "http://127.0.0.1:9"}))
    status = down.check()
    assert not status.ok and "s3.endpoint" in status.message


def test_local_parquet_conforms_to_the_contract(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int32()), "v": [1.5, None]}),
                   tmp_path / "p.parquet")
    source = FileSource(FileSourceConfig(root=tmp_path, path="*.parquet"))
    batches, _, states = read_all(source)
    assert batches[0].to_pylist() == [{"id": 1, "v": 1.5}, {"id": 2, "v": None}]
    assert list(states[-1]["files"]) == ["p.parquet"]
    with pytest.raises(Exception, match="cannot read Parquet"):
        write(tmp_path / "bad.parquet", "not parquet")
        list(FileSource(FileSourceConfig(root=tmp_path, path="bad.parquet")).read("s", None))


def test_job_reads_csv_from_s3_into_iceberg(config_root: Path, s3_server: S3Server,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = s3_server.new_bucket()
    local = config_root / "examples/data/orders"
    for f in sorted(local.glob("*.csv")):
        s3_server.client().put_object(Bucket=bucket, Key=f"orders/{f.name}",
                                      Body=f.read_bytes())
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    text = (config_root / "jobs/acme/orders.yaml").read_text().replace(
        "path: examples/data/orders/*.csv", f"path: s3://{bucket}/orders/*.csv")
    job = ConfigRoot(config_root).load_job(write(config_root / "jobs/acme/orders.yaml", text))
    manifest, result = runner.run_job(job, "run-1")
    assert result.committed and manifest["rows"] == 8
    assert all(k.startswith(f"s3://{bucket}/") for k in manifest["state"]["source"]["files"])
    manifest, _ = runner.run_job(job, "run-2")
    assert manifest["rows_read"] == 0
