"""The mmrag Streamlit UI: Search, Chat and Library, a client of the REST API only.

Run with `mmrag ui` (or `streamlit run ui/app.py`); it talks to MMRAG_API_URL with MMRAG_API_KEY.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run ui/app.py` puts ui/ on sys.path, not the project root; make `ui.*` importable either way.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ui.chat_page import chat_page  # noqa: E402
from ui.components import CSS, client  # noqa: E402
from ui.library_page import library_page  # noqa: E402
from ui.search_page import search_page  # noqa: E402


def sidebar() -> None:
    with st.sidebar:
        st.markdown("### mmrag")
        st.caption("Search and ask across your photos, videos, recordings and documents.")
        ready = client().ready()
        status = ready.get("status")
        if status == "ready":
            st.success(
                f"API ready · {ready.get('points', 0)} segments indexed", icon=":material/check_circle:"
            )
            for space, reason in (ready.get("unavailable") or {}).items():
                if reason.startswith("disabled"):
                    continue  # switched off on purpose: not worth a warning
                st.caption(f"{space}: unavailable ({reason[:120]})")
        elif status == "loading":
            st.info("API is loading its models…", icon=":material/hourglass_top:")
        else:
            st.error(ready.get("error") or f"API not ready ({status})", icon=":material/error:")
            st.caption(f"API at {client().base_url}; start it with `mmrag serve`.")
        st.text_input("API key", type="password", key="api_key",
                      help="One of the API's MMRAG_API_KEYS; needed to upload and delete.")  # fmt: skip


def main() -> None:
    st.set_page_config(page_title="mmrag", page_icon=":material/search:", layout="wide")
    st.markdown(CSS, unsafe_allow_html=True)
    pages = st.navigation([
        st.Page(search_page, title="Search", icon=":material/search:", default=True),
        st.Page(chat_page, title="Chat", icon=":material/chat:", url_path="chat"),
        st.Page(library_page, title="Library", icon=":material/photo_library:", url_path="library"),
    ])  # fmt: skip
    sidebar()
    pages.run()


main()
