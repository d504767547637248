"""The test harness itself: helpers that start servers stop everything those servers spawned."""

from __future__ import annotations

import time

import pytest

from tests.fixtures.processes import group_alive, start_group, stop_group

pytestmark = pytest.mark.unit


def test_stop_group_stops_the_children_too() -> None:
    """Like `mmrag ui` and its Streamlit child: a leader with two children, all gone after stop_group."""
    proc = start_group(["bash", "-c", "sleep 300 & sleep 300 & wait"])
    time.sleep(0.3)
    assert group_alive(proc)
    stop_group(proc, timeout=5)
    assert not group_alive(proc) and proc.returncode is not None


def test_a_group_that_ignores_sigterm_is_killed() -> None:
    proc = start_group(["bash", "-c", "trap '' TERM; sleep 300 & wait"])
    time.sleep(0.3)
    started = time.monotonic()
    stop_group(proc, timeout=1)
    assert not group_alive(proc) and time.monotonic() - started < 5
