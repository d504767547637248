"""Routing: the UniversalRAG-style router (trained and LLM), its features, training and route selection; `backends` registers them."""
