"""The Ray engine on a real local Ray cluster (2 CPUs, loopback only) against the local engine.

Both index the same real files (the packaged samples, a docling test PDF and an empty file that must fail)
into separate homes; they must produce the same segments (ids, texts, locators), the same counts and the
same failures. The Ray side goes through `mmrag index --engine ray`, so the CLI wiring is covered too.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO, SAMPLES, TEST_DATA

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[None]:
    """A private local Ray cluster for this module: 2 CPUs, bound to loopback, stopped afterwards."""
    import ray

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(SAMPLES, folder)
    shutil.copy(TEST_DATA / "pdf" / "multi_page.pdf", folder / "multi_page.pdf")
    (folder / "empty.txt").write_bytes(b"")
    return folder


class _RecordingStore:
    """Delegates to the real store and remembers which segment ids were written (not a fake)."""

    def __init__(self, real) -> None:
        self.real = real
        self.written: list[str] = []

    def upsert(self, records) -> None:
        self.written.extend(r.segment.segment_id for r in records)
        self.real.upsert(records)

    def __getattr__(self, name):
        return getattr(self.real, name)


def _shape(segment) -> tuple:
    return (segment.segment_id, segment.source_id, segment.granularity, segment.text, segment.locator)


def test_ray_engine_indexes_the_same_segments_as_the_local_engine(
    ray_cluster, make_container, corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = make_container(home=tmp_path / "local", ocr=False)
    recorder = _RecordingStore(local.indexer.store)
    local.indexer.store = recorder
    expected = local.indexer.index_paths([corpus]).to_dict()
    assert expected["indexed"] >= 7 and expected["segments"] > expected["indexed"]
    assert [Path(f["uri"]).name for f in expected["failed"]] == ["empty.txt"]

    from app.cli.main import app

    monkeypatch.setenv("MMRAG_HOME", str(tmp_path / "ray"))
    monkeypatch.setenv("MMRAG_OCR", "false")
    result = CliRunner().invoke(app, ["index", "--engine", "ray", "--json", str(corpus)])
    assert result.exit_code == 1, result.output  # 1: the empty file failed, the rest was indexed
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected

    remote = make_container(home=tmp_path / "ray", ocr=False)
    ids = sorted(set(recorder.written))
    assert remote.store.count() == local.store.count() == len(ids) == expected["segments"]
    assert [_shape(s) for s in remote.store.get(ids)] == [_shape(s) for s in local.store.get(ids)]
    by_id = {r.source_id: (r.uri, r.status, r.segments) for r in remote.manifest.sources()}
    assert by_id == {r.source_id: (r.uri, r.status, r.segments) for r in local.manifest.sources()}
    # Same vectors up to float noise (encoder batches differ between engines), so the same nearest segments.
    q = local.text_encoder.encode_queries(["how fine should I grind coffee for espresso"])[0]
    near = {h.segment.segment_id: h.score for h in local.store.search("text", q, None, 5)}
    far = {h.segment.segment_id: h.score for h in remote.store.search("text", q, None, 5)}
    assert next(iter(far)) == next(iter(near))
    assert all(far[i] == pytest.approx(near[i], abs=1e-4) for i in far.keys() & near.keys())
    assert len(far.keys() & near.keys()) >= 4

    remote.close()  # the embedded store is single-writer: release it for the next run
    again = CliRunner().invoke(app, ["index", "--engine", "ray", "--json", str(corpus / "field-notes.md")])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout.strip().splitlines()[-1])["unchanged"] == 1
