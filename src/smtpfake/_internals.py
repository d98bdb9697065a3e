"""Every private aiosmtpd and asyncio internal smtpfake relies on, in one place, with why.

smtpfake subclasses aiosmtpd's ``SMTP`` protocol (``_connection``, ``_protocol``), so it lives
with some of that class's private attributes; a few more are used only where a measured target
needs them (starting a server in well under a millisecond, DATA at hundreds of MB/s, a fixture
cheaper than a plain aiosmtpd server: see README "Benchmarks"). ``INTERNALS`` lists them all.
The aiosmtpd versions they were tested with are pinned in ``pyproject.toml``; the test suite
(``tests/fake/test_internals.py``) fails with a clear message under any other version, checks
that every name listed here still exists, and that the code uses no private aiosmtpd name that
is not listed.

The accessors below are the one way the rest of smtpfake reaches the internals a plain call can
reach; the rest are overrides and attributes of the aiosmtpd subclass itself, which cannot be
routed, only listed.
"""

from __future__ import annotations

import asyncio
import threading
from asyncio import sslproto
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

__all__ = [
    "INTERNALS",
    "Internal",
    "SSLProtocol",
    "command_tables",
    "register_atexit",
    "set_command_tables",
    "stream_buffer",
]


class Internal(NamedTuple):
    """One private name (or undocumented behaviour) smtpfake relies on."""

    module: str  # where it is defined
    name: str  # "Class.attribute", or a module attribute
    used_in: str  # smtpfake's modules that use it
    why: str


_SMTP = "aiosmtpd.smtp"
INTERNALS: tuple[Internal, ...] = (
    # -- aiosmtpd: the protocol subclass ------------------------------------------------------
    Internal(_SMTP, "SMTP._smtp_methods", "_tables",
             "the command table aiosmtpd builds per connection by scanning dir(self); learnt "
             "once per class and bound on lookup (about 20 us a connection, a fifth of a "
             "one-message conversation)"),
    Internal(_SMTP, "SMTP._auth_methods", "_tables",
             "the AUTH mechanism table, built and replaced the same way"),
    Internal(_SMTP, "_AuthMechAttr", "_tables",
             "the entries of _auth_methods (method, is_builtin), rebuilt per connection"),
    Internal(_SMTP, "SMTP._getaddr", "_connection, _protocol",
             "aiosmtpd's address parser: overridden with a fast path for <local@domain>, and "
             "called to read MAIL/RCPT arguments for rules exactly as aiosmtpd reads them"),
    Internal(_SMTP, "SMTP._strip_command_keyword", "_protocol",
             "strips FROM:/TO: as aiosmtpd does, for the same rule matching"),
    Internal(_SMTP, "SMTP._getparams", "_protocol",
             "overridden to accept the DSN parameters (RFC 3461) smtpfake advertises"),
    Internal(_SMTP, "SMTP._reset_timeout", "_connection",
             "overridden: the idle deadline moves on each command instead of a new timer"),
    Internal(_SMTP, "SMTP._timeout_duration", "_connection", "read by that override"),
    Internal(_SMTP, "SMTP._timeout_handle", "_connection", "the timer that override keeps"),
    Internal(_SMTP, "SMTP._timeout_cb", "_connection", "called when the idle deadline passes"),
    Internal(_SMTP, "SMTP._handler_coroutine", "_connection",
             "the connection's task: its errors reach the test; stop() waits for it; None "
             "means an implicit-TLS handshake never finished"),
    Internal(_SMTP, "SMTP._original_transport", "_connection",
             "set once STARTTLS began: which transports to abort, whether TLS is on"),
    Internal(_SMTP, "SMTP._tls_protocol", "_connection", "whether STARTTLS completed"),
    Internal(_SMTP, "SMTP._reader", "_connection, _delivery",
             "the connection's StreamReader: wrapped to note bad lines in the transcript, and "
             "read in whole chunks for DATA"),
    Internal(_SMTP, "SMTP._writer", "_connection",
             "replies are written directly, so a pipelined group is answered in one write"),
    Internal(_SMTP, "SMTP._auth_required", "_connection",
             "set after __init__: passing auth_required= logs a warning on every connection"),
    Internal(_SMTP, "SMTP._create_session", "_connection",
             "overridden: a Session without the deprecation log on every AUTH"),
    Internal(_SMTP, "SMTP._create_envelope", "_connection",
             "overridden: an Envelope that keeps RCPT options per recipient"),
    Internal(_SMTP, "SMTP.__init__ scans dir(self) and dir(handler)", "_tables, _connection",
             "behaviour: __dir__ is narrowed while aiosmtpd scans (see _tables)"),
    Internal(_SMTP, "SMTP.smtp_STARTTLS pushes one 220, then starts TLS", "_protocol, _connection",
             "behaviour: a scripted 2xx to STARTTLS takes the place of that one reply "
             "(_start_tls), so TLS starts exactly as aiosmtpd starts it"),
    Internal(_SMTP, "Session.login_data", "_connection",
             "shadowed by a plain attribute: the property logs a deprecation on every AUTH"),
    # -- asyncio ------------------------------------------------------------------------------
    Internal("asyncio.streams", "StreamReader._buffer", "_connection, _data, _chunking",
             "read: are more pipelined commands waiting (RFC 2920 grouped replies)? written: "
             "bytes read past the end of DATA go back in front (aiosmtpd itself clears it at "
             "STARTTLS)"),
    Internal("asyncio.streams", "StreamReader.readline calls readuntil", "_connection",
             "behaviour: wrapping readuntil on the instance sees every line aiosmtpd reads"),
    Internal("asyncio.sslproto", "SSLProtocol", "_tls",
             "implicit TLS: each connection is wrapped by hand (as create_server(ssl=) does "
             "inside) so the session is recorded at accept and a failed handshake noted"),
    Internal("asyncio.sslproto", "SSLProtocol._loop", "_tls",
             "the subclass schedules its report after the application's connection_lost"),
    Internal("asyncio.selector_events", "_SelectorTransport.max_size", "_connection",
             "lowered to 64 KiB: a 256 KiB recv buffer costs an mmap per read"),
    Internal("asyncio.base_events", "Server", "_lifecycle", "type annotations only"),
    Internal("asyncio.base_events", "BaseEventLoop.create_server yields once", "_loop",
             "behaviour: start_now skips that bare yield; if it ever waits, a task carries on"),
    Internal("threading", "_register_atexit", "_loop",
             "stops the non-daemon loop thread before the interpreter joins threads at exit"),
)

SSLProtocol = sslproto.SSLProtocol

register_atexit: Callable[[Callable[[], None]], None] | None = getattr(
    threading, "_register_atexit", None
)


def stream_buffer(reader: asyncio.StreamReader) -> bytearray:
    """The bytes ``reader`` holds but nobody has read yet (mutable: in place edits count)."""
    buffer: bytearray = reader._buffer  # type: ignore[attr-defined]
    return buffer


def command_tables(protocol: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """aiosmtpd's per-connection (commands, AUTH mechanisms) tables of ``protocol``."""
    return protocol._smtp_methods, protocol._auth_methods


def set_command_tables(
    protocol: Any, commands: Mapping[str, Any], mechanisms: Mapping[str, Any]
) -> None:
    """Replace ``protocol``'s command and AUTH tables (aiosmtpd only reads them)."""
    protocol._smtp_methods = commands
    protocol._auth_methods = mechanisms
