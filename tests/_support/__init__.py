"""Test infrastructure shared by the client, compat and reliability suites.

- :mod:`.tls`: one trustme CA, the server and client ``SSLContext``s it gives, and fixtures.
- :mod:`.loop`: an asyncio loop on a thread that hosts aiosmtpd listeners on ephemeral ports.
"""

from __future__ import annotations

from .loop import LoopThread
from .tls import client_context, server_context

__all__ = ["LoopThread", "client_context", "server_context"]
