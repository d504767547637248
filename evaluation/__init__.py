"""Evaluation of the retrieval stack: `mmrag eval beir|router|images|asr|qa` (the CLI lives in `app/`).

Each module takes ready components (an indexer and a retriever, a router, an encoder, an ASR, an `ask`
callable) and returns a typed result whose `to_json()` is the command's JSON. The layer sits above indexing,
retrieval, rerank and generation and below the app (ARCHITECTURE.md, "Packages").
"""
