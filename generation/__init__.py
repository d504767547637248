"""Generators, prompts and citation mapping."""
