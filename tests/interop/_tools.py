"""What the interop tests need from the machine, and the message when it is not there."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from pathlib import Path

INSTALL = "apt-get install postfix dovecot-core dovecot-lmtpd"
#: Postfix and Dovecot live in sbin, which a non-root PATH may lack.
SEARCH_PATH = os.pathsep.join((os.environ.get("PATH", os.defpath), "/usr/sbin", "/sbin"))
#: Where distributions put Dovecot's service binaries (the LMTP server among them).
DOVECOT_LIBEXEC = ("/usr/lib/dovecot", "/usr/libexec/dovecot")
USERS = ("postfix", "dovecot", "dovenull", "nobody")
GROUPS = ("postdrop",)


def tool(name: str) -> str:
    """The path of the command ``name`` (``FileNotFoundError`` when it is not installed)."""
    found = shutil.which(name, path=SEARCH_PATH)
    if found is None:
        raise FileNotFoundError(name)
    return found


def unavailable() -> list[str]:
    """Why private Postfix and Dovecot instances cannot run here (empty: they can)."""
    reasons = [
        f"no {name} command"
        for name in ("postfix", "postconf", "dovecot")
        if shutil.which(name, path=SEARCH_PATH) is None
    ]
    if not any(Path(directory, "lmtp").exists() for directory in DOVECOT_LIBEXEC):
        reasons.append("no Dovecot LMTP server")
    for user in USERS:
        try:
            pwd.getpwnam(user)
        except KeyError:
            reasons.append(f"no {user} user")
    for group in GROUPS:
        try:
            grp.getgrnam(group)
        except KeyError:
            reasons.append(f"no {group} group")
    if os.geteuid() != 0:
        reasons.append("not root (Postfix's master daemon must start as root)")
    return reasons


def skip_reason(reasons: list[str]) -> str:
    return (
        f"real Postfix and Dovecot cannot run here ({'; '.join(reasons)}): "
        f"install them with `{INSTALL}` and run the tests as root (they start private "
        "instances; no system service is started or configured)"
    )
