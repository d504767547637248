"""Search: a query (and optionally an example picture), filters, and a grid of results."""

from __future__ import annotations

import streamlit as st

from ui.client import ApiError
from ui.components import client, empty_state, hit_card, show_error

MODALITIES = ["text", "image", "video", "audio"]
COLUMNS = 3


def search_page() -> None:
    st.title("Search")
    with st.form("search", border=False):
        query = st.text_input("Search query", placeholder="a dog catching a frisbee, revenue in 2023, …")
        left, mid, right = st.columns([3, 3, 1])
        modality = left.multiselect("Modality", MODALITIES, placeholder="all modalities")
        picture = mid.file_uploader("Example image (optional)", type=["png", "jpg", "jpeg", "webp"])
        k = right.number_input("Results", 1, 50, 12)
        submitted = st.form_submit_button("Search", type="primary", icon=":material/search:")
    if submitted:
        if not query.strip() and picture is None:
            st.warning("Type something to look for, or give an example image.")
            return
        try:
            with st.spinner("Searching…"):
                result = client().search(
                    query, int(k), modality, image=picture.getvalue() if picture else None
                )
        except ApiError as exc:
            show_error(exc, "search")
            return
        st.session_state["last_search"] = (query, result)
    if "last_search" not in st.session_state:
        empty_state("Find anything in your files", "Photos, PDF pages, video moments and text passages, ranked "
                    "together. Add files in the <b>Library</b> first.")  # fmt: skip
        return
    query, result = st.session_state["last_search"]
    hits = result["hits"]
    if not hits:
        empty_state("No results", "Nothing matched. Try other words, drop the modality filter, or add files.")
        return
    noun = "result" if len(hits) == 1 else "results"
    st.caption(f"{len(hits)} {noun} in {result['took_ms']:.0f} ms ({result['method']})")
    for row in range(0, len(hits), COLUMNS):
        for col, (offset, hit) in zip(
            st.columns(COLUMNS), enumerate(hits[row : row + COLUMNS]), strict=False
        ):
            with col:
                hit_card(hit, row + offset + 1, query)
