"""Unit tests are pure: any attempt to open a network socket fails the test."""

from __future__ import annotations

import socket

import pytest


class SocketBlockedError(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def guard(*_args: object, **_kwargs: object) -> None:
        raise SocketBlockedError("unit tests must not open sockets; move this to tests/integration")

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setattr(socket.socket, "connect_ex", guard)
    monkeypatch.setattr(socket, "create_connection", guard)
