"""smtplib's subclass hooks, resolved for the blocking driver: replaced methods become Hooks.

smtplib's compound methods call ``self.mail``, ``self.has_extn``... An application that
replaced one of them (in a subclass, or by patching the object) expects the transaction to go
through its version. :func:`hooks_of` looks at the client's methods before each compound call
(so a ``mock.patch`` applied after the object was made counts) and gives the core a
:class:`~smtpclient.protocol.Hooks` that calls the replacements; when nothing is replaced it is
``NO_HOOKS``, and the core takes its own steps (and may pipeline them).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from ._events import Flow
from ._hooks import NO_HOOKS, AuthObject, Hooks
from ._session import Session

__all__ = ["SessionView", "hooks_of"]

T = TypeVar("T")

# The methods smtplib's compound methods call through ``self``.
_STEPS = ("ehlo", "helo", "ehlo_or_helo_if_needed", "rset", "mail", "rcpt", "data", "sendmail")
_AUTHOBJECTS = ("auth_cram_md5", "auth_plain", "auth_login", "auth_xoauth2")
HOOKED = (*_STEPS, "auth", "has_extn", *_AUTHOBJECTS)


_methods = operator.attrgetter(*HOOKED)


def hooks_of(client: Any, originals: tuple[Callable[..., Any], ...]) -> Hooks:
    """The Hooks for ``client``: one for each of its methods that is not in ``originals``
    (the methods as ``SMTP`` defines them, in the order of ``HOOKED``)."""
    cls, own = type(client), client.__dict__
    if _methods(cls) == originals and own.keys().isdisjoint(HOOKED):
        return NO_HOOKS  # the usual case, checked in two C-level passes
    replaced = [
        name
        for name, original in zip(HOOKED, originals, strict=True)
        if getattr(cls, name) is not original or name in own
    ]
    fields: dict[str, Any] = {}
    for name in replaced:
        if name == "has_extn":
            fields[name] = client.has_extn
        elif name == "auth":
            fields[name] = functools.partial(_auth, client.auth)
        elif name in _AUTHOBJECTS:
            fields["authobject"] = functools.partial(_authobject, client)
        else:
            fields[name] = functools.partial(_calling, getattr(client, name))
    return Hooks(**fields)


def _calling(method: Callable[..., T], *args: Any) -> Flow[T]:
    """A flow that calls ``method`` (which does its own I/O) and returns its result."""
    yield from ()
    return method(*args)


def _auth(method: Callable[..., T], mechanism: str, authobject: AuthObject, ok: bool) -> Flow[T]:
    yield from ()
    return method(mechanism, authobject, initial_response_ok=ok)


def _authobject(client: Any, mechanism: str) -> AuthObject:
    method: AuthObject = getattr(client, "auth_" + mechanism.lower().replace("-", "_"))
    return method


class SessionView(Generic[T]):
    """An attribute of ``SMTP`` that is a field of its session (``esmtp_features``...)."""

    def __init__(self, field: str) -> None:
        self.field = field

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> SessionView[T]: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T: ...
    def __get__(self, obj: object | None, objtype: type | None = None) -> T | SessionView[T]:
        if obj is None:  # on the class: the session's default, as smtplib's class attributes
            default: T | SessionView[T] = getattr(Session, self.field, self)
            return default
        value: T = getattr(obj._session, self.field)  # type: ignore[attr-defined]
        return value

    def __set__(self, obj: object, value: T) -> None:
        setattr(obj._session, self.field, value)  # type: ignore[attr-defined]
