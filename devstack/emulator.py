"""The embedded AWS emulator (moto server) on loopback."""

from __future__ import annotations

import logging

from moto.server import ThreadedMotoServer


def start_emulator(port: int) -> ThreadedMotoServer:
    """Start moto server on 127.0.0.1:port in a background thread."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server
