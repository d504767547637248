"""Unit tier: fast, no model weights; fakes are named as such."""
