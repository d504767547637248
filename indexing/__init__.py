"""Extraction, chunking, encoders, the ingestion manifest and the indexing pipeline."""
