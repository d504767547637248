"""Streamlit UI: a client of the REST API only."""
