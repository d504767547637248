"""Rendering pieces shared by the pages: the API client, hit cards, highlighted snippets, evidence."""

from __future__ import annotations

import html
import re
from typing import Any

import streamlit as st

from ui.client import ApiClient, ApiError

ICONS = {"text": ":material/description:", "image": ":material/image:", "video": ":material/movie:",
         "audio": ":material/graphic_eq:"}  # fmt: skip
STOPWORDS = {"a", "an", "the", "of", "in", "on", "and", "or", "to", "is", "are", "for", "with", "what", "how"}


def client() -> ApiClient:
    """One client per browser session, using the key typed in the sidebar (or MMRAG_API_KEY)."""
    key = st.session_state.get("api_key") or None
    cached = st.session_state.get("_client")
    if cached is None or st.session_state.get("_client_key") != key:
        cached = ApiClient(api_key=key)
        st.session_state["_client"], st.session_state["_client_key"] = cached, key
    return cached


@st.cache_data(max_entries=512, show_spinner=False)
def fetch_bytes(base_url: str, url: str, api_key: str | None) -> bytes | None:
    """Media and files by URL (cached: result grids re-render on every interaction)."""
    try:
        return ApiClient(base_url, api_key=api_key).get_bytes(url)
    except ApiError:
        return None


def media(url: str | None) -> bytes | None:
    if not url:
        return None
    c = client()
    return fetch_bytes(c.base_url, url, st.session_state.get("api_key") or None)


def show_error(exc: ApiError, doing: str) -> None:
    """One explained error: what failed and what to do about it."""
    hints = {
        "unreachable": "Is the API running? Start it with `mmrag serve` (the UI reads MMRAG_API_URL).",
        "unauthorized": "This needs an API key: enter one of MMRAG_API_KEYS in the sidebar.",
        "not_ready": "The API is still loading its models; try again in a few seconds.",
        "payload_too_large": "Upload fewer or smaller files, or raise MMRAG_MAX_UPLOAD_MB on the API.",
        "too_many_files": "Upload fewer files at once, or raise MMRAG_MAX_UPLOAD_FILES on the API.",
        "model_unavailable": "A model could not be loaded on the API side; `mmrag doctor` says why.",
    }
    st.error(f"Could not {doing}: {exc.message}", icon=":material/error:")
    if exc.code in hints:
        st.caption(hints[exc.code])


def fmt_time(seconds: float) -> str:
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def where(item: dict[str, Any]) -> str:
    """`file.pdf · p. 3`, `talk.mp4 · 01:05–01:35`, or the file name."""
    loc = item.get("locator") or {}
    if loc.get("start_s") is not None:
        end = f"–{fmt_time(loc['end_s'])}" if loc.get("end_s") is not None else ""
        return f"{item['uri']} · {fmt_time(loc['start_s'])}{end}"
    if loc.get("page") is not None:
        return f"{item['uri']} · p. {loc['page']}"
    return item["uri"]


def highlight(text: str, query: str, limit: int = 400) -> str:
    """HTML: the text escaped, cut around the first match, with the query's words in <mark>."""
    words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 2 and w not in STOPWORDS]
    flat = " ".join(text.split())
    start = 0
    if words:
        found = re.search("|".join(re.escape(w) for w in words), flat, re.IGNORECASE)
        if found and found.start() > limit // 3:
            start = max(0, found.start() - limit // 3)
    snippet = (
        ("…" if start else "") + flat[start : start + limit] + ("…" if len(flat) > start + limit else "")
    )
    escaped = html.escape(snippet)
    if words:
        pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")", re.IGNORECASE)
        escaped = pattern.sub(r"<mark>\1</mark>", escaped)
    return escaped


def evidence(item: dict[str, Any], query: str = "", key: str = "") -> None:
    """The evidence of a hit or citation: picture, page, video at its timestamp, and the text."""
    loc = item.get("locator") or {}
    modality = item.get("modality")
    start = int(loc.get("start_s") or 0)
    played = False
    if modality in ("video", "audio") and item.get("file_url"):
        data = media(item["file_url"])
        if data:
            (st.video if modality == "video" else st.audio)(data, start_time=start)
            played = True
    if not played:
        picture = media(item.get("media_url"))
        if picture:
            st.image(picture, width="stretch", caption=where(item))
    if item.get("text"):
        st.markdown(f"<div class='mm-snippet'>{highlight(item['text'], query)}</div>", unsafe_allow_html=True)


def hit_card(hit: dict[str, Any], rank: int, query: str) -> None:
    """One result in the grid."""
    with st.container(border=True):
        icon = ICONS.get(hit["modality"], ":material/description:")
        st.markdown(f"**{rank}.** {icon} **{html.escape(where(hit))}**")
        evidence(hit, query, key=hit["segment_id"])
        st.caption(f"{hit['granularity']} · score {hit['score']:.4f}")


CSS = """
<style>
mark { background: #ffe08a; padding: 0 .1em; border-radius: .2em; }
.mm-snippet { font-size: .92rem; line-height: 1.45; color: var(--text-color); }
.mm-empty { padding: 2rem; text-align: center; opacity: .75; }
</style>
"""


def empty_state(title: str, body: str) -> None:
    st.markdown(
        f"<div class='mm-empty'><h4>{html.escape(title)}</h4><p>{body}</p></div>", unsafe_allow_html=True
    )
