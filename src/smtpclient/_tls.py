"""The default TLS context: verified (certificate and host name), built once per process.

``tls_context`` picks the context a connection uses; it calls :func:`default_context` through
this module's namespace, so patching ``smtpclient._tls.default_context`` (a test harness adding
its CA) reaches ``starttls()`` and ``SMTP_SSL`` alike.

``ssl.create_default_context()`` loads the system CA store, which costs ~20 ms; a client that
opens many connections must not pay that per connection. :func:`default_context` builds it on
first use and returns the same object afterwards. It is shared and mutable on purpose: a test
harness may add a test CA to it (``ca.configure_trust(default_context())``). No attribute of a
client or its socket exposes it: ``SMTP_SSL.context`` and the TLS socket's ``context`` are
their own (built when first read), so code that adjusts them, as smtplib's per-object contexts
allow, changes no other connection.
"""

from __future__ import annotations

import ssl
import threading
import warnings

__all__ = ["check_tls_arguments", "client_cert_context", "default_context", "tls_context"]

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


class _DefaultContextSocket(ssl.SSLSocket):
    """A TLS socket made with the shared default context, which its ``context`` does not expose.

    Reading ``sock.context`` gives the socket a verified context of its own, built then (~20 ms):
    code that adjusts ``smtp.sock.context`` (smtplib's contexts are per call) changes no other
    connection. The established connection keeps the context it was made with.
    """

    @property
    def context(self) -> ssl.SSLContext:
        own: ssl.SSLContext | None = self.__dict__.get("_own_context")
        if own is None:
            own = self.__dict__["_own_context"] = ssl.create_default_context()
        return own

    @context.setter
    def context(self, context: ssl.SSLContext) -> None:
        ssl.SSLSocket.context.fset(self, context)  # type: ignore[attr-defined]
        self.__dict__["_own_context"] = context


def default_context() -> ssl.SSLContext:
    """The process-wide verified client context (``ssl.create_default_context()``), cached.

    The sockets it wraps do not expose it (see :class:`_DefaultContextSocket`).
    """
    global _context
    context = _context
    if context is None:
        with _lock:
            context = _context
            if context is None:
                context = ssl.create_default_context()
                context.sslsocket_class = _DefaultContextSocket
                _context = context
    return context


def client_cert_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext:
    """A new verified context presenting a client certificate (the deprecated arguments)."""
    context = ssl.create_default_context()
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile)
    return context


def check_tls_arguments(keyfile: str | None, certfile: str | None, context: object) -> None:
    """smtplib's checks of the deprecated ``keyfile``/``certfile`` against ``context``."""
    if context is not None and keyfile is not None:
        raise ValueError("context and keyfile arguments are mutually exclusive")
    if context is not None and certfile is not None:
        raise ValueError("context and certfile arguments are mutually exclusive")
    if keyfile is not None or certfile is not None:
        warnings.warn(
            "keyfile and certfile are deprecated, use a custom context instead",
            DeprecationWarning,
            4,  # the caller of SMTP_SSL() or starttls()
        )


def tls_context(
    keyfile: str | None, certfile: str | None, context: ssl.SSLContext | None
) -> ssl.SSLContext:
    """``context``, else a verified one: the cached default, or one with the client cert."""
    if context is not None:
        return context
    if keyfile is None and certfile is None:
        return default_context()
    return client_cert_context(certfile, keyfile)
