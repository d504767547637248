"""Chat: questions answered from your files, streamed, with numbered citations that open their evidence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import streamlit as st

from ui.client import ApiError
from ui.components import client, empty_state, evidence, show_error, where


def _citations(citations: list[dict[str, Any]], question: str, key: str) -> None:
    if not citations:
        return
    st.markdown("**Sources**")
    for c in citations:
        with st.expander(f"[{c['n']}] {where(c)}"):
            evidence(c, question, key=f"{key}-{c['n']}")


def _stream(question: str, final: dict[str, Any]) -> Iterator[str]:
    """Tokens for st.write_stream; the finished answer (text, citations, route) ends up in `final`."""
    for event, data in client().ask_stream(question):
        if event == "error":
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise ApiError(500, error.get("code", "error"), error.get("message", "the answer failed"))
        if event == "token" and isinstance(data, str):
            yield data
        elif event == "done" and isinstance(data, dict):
            final.update(data)


def chat_page() -> None:
    st.title("Chat")
    history: list[dict[str, Any]] = st.session_state.setdefault("chat", [])
    question = st.chat_input("Ask a question about your files")
    if not history and not question:
        empty_state("Ask your files", "Answers cite their evidence as [1], [2], …: open a source to see the "
                    "passage, page, picture or video moment.")  # fmt: skip
    for i, turn in enumerate(history):
        with st.chat_message(turn["role"]):
            st.markdown(turn["text"])
            _citations(turn.get("citations", []), turn.get("question", ""), key=f"h{i}")
    if not question:
        return
    history.append({"role": "user", "text": question})
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        final: dict[str, Any] = {}
        try:
            streamed = st.write_stream(_stream(question, final))
        except ApiError as exc:
            show_error(exc, "answer")
            return
        text = final.get("text") or (
            streamed if isinstance(streamed, str) else "".join(map(str, streamed or []))
        )
        if not streamed and text:
            st.markdown(text)
        _citations(final.get("citations", []), question, key=f"h{len(history)}")
    history.append({"role": "assistant", "text": text or "_(no answer)_", "citations": final.get("citations", []),
                    "question": question})  # fmt: skip
