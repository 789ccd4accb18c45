"""The wire between the candidate pytest process and its control: JSON messages over an
inherited socket, each a list whose first item names it.

The candidate makes a socket pair and passes one end to the control process it starts
(``pass_fds``); the control finds it by the number in :data:`FD_VARIABLE`. A process that
dies closes its end, so the other one reads :class:`ChannelClosed` instead of waiting.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

__all__ = ["FD_VARIABLE", "PROTOCOL", "Channel", "ChannelClosed", "ChannelTimeout"]

#: The environment variable that gives the control process its end of the socket.
FD_VARIABLE = "PYTEST_PERFBUDGET_CONTROL_FD"
#: The version of the messages: the two sides' plugins must agree on it.
PROTOCOL = 2
_HEADER = struct.Struct("!I")


class ChannelClosed(Exception):
    """The other side closed the channel (it ended, or crashed)."""


class ChannelTimeout(Exception):
    """The other side sent nothing in time."""


class Channel:
    """One end of the wire."""

    def __init__(self, end: socket.socket) -> None:
        self._socket = end

    @classmethod
    def pair(cls) -> tuple[Channel, socket.socket]:
        """This process's end, and the socket to hand to the other process."""
        mine, theirs = socket.socketpair()
        return cls(mine), theirs

    @classmethod
    def inherited(cls, fd: int) -> Channel:
        """The end a parent process passed down as file descriptor ``fd``."""
        return cls(socket.socket(fileno=fd))

    def send(self, *message: Any) -> None:
        data = json.dumps(list(message)).encode("utf-8")
        try:
            self._socket.sendall(_HEADER.pack(len(data)) + data)
        except OSError as error:
            raise ChannelClosed(str(error)) from None

    def receive(self, timeout: float | None = None) -> list[Any]:
        """The next message; raises :class:`ChannelTimeout` after ``timeout`` seconds
        without one (None waits for ever) and :class:`ChannelClosed` when the other side
        is gone."""
        self._socket.settimeout(timeout)
        try:
            (length,) = _HEADER.unpack(self._read(_HEADER.size))
            message: list[Any] = json.loads(self._read(length))
        except TimeoutError:
            raise ChannelTimeout(f"nothing received in {timeout:g} s") from None
        return message

    def _read(self, size: int) -> bytes:
        chunks = []
        while size:
            try:
                chunk = self._socket.recv(size)
            except OSError as error:
                if isinstance(error, TimeoutError):
                    raise
                raise ChannelClosed(str(error)) from None
            if not chunk:
                raise ChannelClosed("the other side closed the channel")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._socket.close()
