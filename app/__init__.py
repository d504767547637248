"""Composition root, RAG pipeline, CLI and REST API."""
