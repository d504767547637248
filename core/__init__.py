"""Shared domain types, role protocols, settings and errors. Imports nothing heavy."""
