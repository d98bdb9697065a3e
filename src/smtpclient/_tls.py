"""The default TLS context: verified (certificate and host name), built once per process.

``ssl.create_default_context()`` loads the system CA store, which costs milliseconds; a client
that opens many connections must not pay that per connection. :func:`default_context` builds it
on first use and returns the same object afterwards. It is shared and mutable on purpose: a
test harness may add a test CA to it (``ca.configure_trust(default_context())``).
"""

from __future__ import annotations

import ssl
import threading

__all__ = ["client_cert_context", "default_context"]

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


def default_context() -> ssl.SSLContext:
    """The process-wide verified client context (``ssl.create_default_context()``), cached."""
    global _context
    context = _context
    if context is None:
        with _lock:
            context = _context
            if context is None:
                context = _context = ssl.create_default_context()
    return context


def client_cert_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext:
    """A new verified context presenting a client certificate (the deprecated arguments)."""
    context = ssl.create_default_context()
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile)
    return context
