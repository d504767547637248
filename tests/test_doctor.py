"""`mmrag doctor`: every component with its model, resolved device, status and reason; the home and its size;
a non-zero exit when a required component (text encoder, store) cannot load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.doctor import REQUIRED, diagnose, render

pytestmark = pytest.mark.integration

COMPONENTS = {"text", "image", "mm", "ocr", "asr", "router", "reranker", "generator", "store"}
ENTRY_KEYS = {"model", "device", "status", "reason", "required", "load_s"}


def test_every_component_is_reported_with_its_device(make_container: Any, tiny_clip: str) -> None:
    container = make_container()
    container.store.upsert([])  # the store exists on disk before the report measures the home
    report = diagnose(container)
    components = report["components"]
    assert set(components) == COMPONENTS
    assert all(set(entry) == ENTRY_KEYS for entry in components.values())
    assert {name for name, c in components.items() if c["required"]} == set(REQUIRED)
    text, image, mm = components["text"], components["image"], components["mm"]
    assert text["status"] == "ok" and text["device"] == "cpu"  # resolved from the loaded model, not "auto"
    assert image["status"] == "ok" and image["model"] == tiny_clip and image["device"] == "cpu"
    assert mm["status"] == "off" and "MMRAG_MM_MODEL" in mm["reason"]
    for name in ("ocr", "asr", "router", "reranker", "generator", "store"):
        assert components[name]["status"] == "ok", (name, components[name])
    assert components["ocr"]["device"] == "cpu (onnxruntime)"  # each wrapper's describe()
    assert components["asr"]["device"] == "cpu" and components["asr"]["model"] == "packaged"
    assert report["ok"] is True and report["problems"] == []
    home = report["home"]
    assert home["exists"] and home["path"] == str(container.settings.home)
    assert home["size_mb"] > 0 and "store" in home["parts_mb"]
    assert report["store"] == {"points": 0, "sources": 0}
    assert report["spaces"]["image"].startswith("ok (") and report["spaces"]["mm"].startswith("off")
    backends = report["backends"]  # every registered backend by role: what the settings can select
    assert (
        "extractive" in backends["generator"]
        and "trained" in backends["router"]
        and "torch" in backends["text_encoder"]
    )
    lines = render(report)
    assert lines[-1] == "ok" and any(line.startswith("*text") and " cpu " in line for line in lines)


def test_a_missing_text_model_fails_the_report_but_not_the_doctor(mmrag_home: Path) -> None:
    from app.container import Container
    from core.settings import Settings

    report = diagnose(Container(Settings(text_model="/no/such/text-model", ocr=False, clip_model="")))
    assert report["ok"] is False
    text = report["components"]["text"]
    assert text["status"] == "failed" and "/no/such/text-model" in text["reason"]
    assert any(p.startswith("text: failed") for p in report["problems"])
    assert report["components"]["store"]["status"] == "failed", "the store needs the text space's dimension"
    assert render(report)[-1].startswith("NOT OK")


def test_missing_optional_weights_are_unavailable_with_the_reason(
    mmrag_home: Path, text_encoder: Any
) -> None:
    from app.container import Container
    from core.settings import Settings

    container = Container(Settings(clip_model="local-dir:/no/such/clip", ocr=False))
    container.__dict__["text_encoder"] = text_encoder
    report = diagnose(container)
    image = report["components"]["image"]
    assert image["status"] == "unavailable" and "/no/such/clip" in image["reason"]
    assert report["ok"] is True, "an optional component does not fail the doctor"
    assert any(p.startswith("image: unavailable") for p in report["problems"])


def test_cli_exits_1_when_a_required_component_cannot_load(
    mmrag_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli.main import app

    monkeypatch.setenv("MMRAG_TEXT_MODEL", "/no/such/text-model")
    monkeypatch.setenv("MMRAG_OCR", "false")
    result = CliRunner().invoke(app, ["doctor", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["ok"] is False and report["components"]["text"]["status"] == "failed"
    human = CliRunner().invoke(app, ["doctor"])
    assert human.exit_code == 1 and "NOT OK" in human.stdout and "/no/such/text-model" in human.stdout
