"""Rerankers and adaptive evidence selection."""
