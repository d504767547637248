"""Vector stores: the embedded qdrant-edge engine, qdrant-client (server or local mode), Matryoshka rescoring; `backends` registers them."""
