"""Fixtures of the worker's unit tests: one scripted loopback server per module (`tests.scripted`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scripted import ScriptedServer, shared


@pytest.fixture(scope="module")
def server() -> Iterator[ScriptedServer]:
    """The module's scripted server (127.0.0.1, and 127.0.0.2 as another host)."""
    with ScriptedServer() as started:
        yield started


@pytest.fixture
def srv(server: ScriptedServer) -> Iterator[ScriptedServer]:
    """The module's scripted server, nothing scripted yet and no call recorded."""
    yield from shared(server)
