"""Fixtures of the unit tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.registry import Registry, default_registry
from tests.unit.fakes import register_fakes


@pytest.fixture
def fake_backends() -> Iterator[Registry]:
    """The process registry with the fake backends added; forgotten afterwards."""
    default_registry.cache_clear()
    registry = default_registry()
    registry.load(register_fakes, origin="tests")
    yield registry
    default_registry.cache_clear()
