"""Real servers on loopback for tests that need sockets (browsers, connection faults)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

WAIT = 10.0  # seconds a server may take to start or stop


class Served:
    """An ASGI app on uvicorn, on 127.0.0.1, in a background thread."""

    def __init__(self, make_app: Callable[[str], Any]) -> None:
        # IPPROTO_TCP: asyncio turns Nagle's algorithm off only for such sockets; without it
        # every exchange waits ~40 ms for a delayed ACK.
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(
            make_app(self.url), log_level="warning", ws="none", lifespan="on", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=WAIT)
        self.socket.close()
