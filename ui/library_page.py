"""Library: upload files (with progress), see job results, list and delete sources."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from ui.client import ApiError
from ui.components import client, empty_state, show_error

STATE_ICON = {"indexed": "✅", "unchanged": "↺", "failed": "❌", "running": "⏳", "pending": "…"}


def _follow(job_id: str) -> dict[str, Any] | None:
    """Poll a job with a progress bar until it finishes."""
    bar = st.progress(0.0, text="Queued…")
    while True:
        try:
            job = client().job(job_id)
        except ApiError as exc:
            show_error(exc, "follow the indexing job")
            return None
        running = next((f["name"] for f in job["files"] if f["state"] == "running"), "")
        bar.progress(job["progress"], text=f"Indexed {job['done']} of {job['total']} files" + (
            f" · now {running}" if running else ""))  # fmt: skip
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.5)


def _job_report(job: dict[str, Any]) -> None:
    ok = sum(f["state"] in ("indexed", "unchanged") for f in job["files"])
    if job["state"] == "failed":
        st.error(f"Indexing failed: {job.get('error') or 'no file could be indexed'}")
    elif job.get("error"):
        st.warning(f"Indexed {ok} of {job['total']} files; {job['error']}.")
    else:
        st.success(f"All {job['total']} files indexed.")
    for f in job["files"]:
        detail = (
            f" — {f['error']}"
            if f.get("error")
            else (f" · {f['segments']} segments" if f["segments"] else "")
        )
        st.markdown(f"{STATE_ICON.get(f['state'], '')} `{f['name']}` {f['state']}{detail}")


def _upload() -> None:
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader("Add files", accept_multiple_files=True,
                                 help="PDF, Word, HTML, Markdown, text, images, video and audio.")  # fmt: skip
        go = st.form_submit_button("Index files", type="primary", icon=":material/upload:")
    if not go:
        return
    if not files:
        st.warning("Choose one or more files first.")
        return
    try:
        accepted = client().upload([(f.name, f.getvalue()) for f in files])
    except ApiError as exc:
        show_error(exc, "upload")
        return
    st.session_state.setdefault("jobs", []).insert(0, accepted["job_id"])
    job = _follow(accepted["job_id"])
    if job:
        _job_report(job)


def _sources() -> None:
    try:
        sources = client().sources()
        watched = client().watched()
    except ApiError as exc:
        show_error(exc, "list the library")
        return
    st.subheader(f"Sources ({len(sources)})")
    if watched:  # MMRAG_WATCH: the server follows these folders (app/watch.py)
        st.caption(f"Watching {', '.join(f'`{w}`' for w in watched)}: new, changed, renamed and deleted "
                   "files there are picked up by themselves.")  # fmt: skip
    if not sources:
        empty_state("Your library is empty", "Add photos, videos, recordings and documents above.")
        return
    for s in sources:
        name, info, action = st.columns([5, 3, 1], vertical_alignment="center")
        status = "" if s["status"] == "indexed" else f" · **{s['status']}**"
        name.markdown(f"`{s['uri']}`{status}")
        info.caption(f"{s['mime']} · {s['size'] / 1e6:.2f} MB · {s['segments']} segments")
        if s.get("error"):
            name.caption(s["error"])
        if action.button("Delete", key=f"del-{s['source_id']}", icon=":material/delete:"):
            try:
                client().delete(s["source_id"])
                st.toast(f"Deleted {s['uri']}")
                st.rerun()
            except ApiError as exc:
                show_error(exc, f"delete {s['uri']}")


def library_page() -> None:
    st.title("Library")
    _upload()
    jobs = st.session_state.get("jobs", [])
    if jobs:
        with st.expander(f"Recent jobs ({len(jobs)})"):
            for job_id in jobs[:10]:
                try:
                    job = client().job(job_id)
                    st.markdown(f"`{job_id[:8]}` {job['state']} · {job['done']}/{job['total']} files"
                                + (f" · {job['error']}" if job.get("error") else ""))  # fmt: skip
                except ApiError as exc:
                    st.caption(f"`{job_id[:8]}`: {exc.message}")
    _sources()
