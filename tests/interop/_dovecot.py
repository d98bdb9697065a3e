"""A private Dovecot: LMTP on a loopback port and a unix socket, and the SASL service that the
private Postfix authenticates against, with its own config file, users and Maildirs.

``dovecot -c FILE -F`` reads only ``FILE`` (nothing under /etc/dovecot) and stays in the
foreground, so the test run owns it.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from ._daemon import Daemon, free_ports, greets, unix_listening
from ._messages import DOMAIN
from ._tools import tool

CONFIG = """\
# Private Dovecot for smtpclient's interop tests (generated; see tests/interop/_dovecot.py).
base_dir = {run}
state_dir = {state}
instance_name = smtpclient-interop
protocols = lmtp
listen = 127.0.0.1
log_path = {log}
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = {uid}
last_valid_uid = {uid}
auth_mechanisms = plain login
auth_failure_delay = 0
disable_plaintext_auth = no
mail_location = maildir:~/Maildir
mail_plugins = quota
postmaster_address = postmaster@{domain}

passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
plugin {{
  quota = maildir:User quota
}}

service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
  unix_listener lmtp {{
    mode = 0666
  }}
}}
# No penalty for the next attempts from an address after a bad password (anvil would delay
# them by seconds, and every test connects from 127.0.0.1).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener auth-client {{
    mode = 0666
  }}
}}
"""


@dataclass(frozen=True)
class User:
    """A mail user: ``password`` for SMTP AUTH; a ``quota`` of ``"1b"`` makes the mailbox full."""

    address: str
    password: str
    quota: str | None = None


USERS = (
    User(f"alice@{DOMAIN}", "correct horse battery staple"),
    User(f"bob@{DOMAIN}", "s3cret"),
    User(f"full@{DOMAIN}", "full", quota="1b"),
)


class Dovecot:
    """A private Dovecot under ``root``: ``start()``, ``stop()``, ``maildir(address)``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.run = root / "run"
        self.mail = root / "mail"
        (self.lmtp_port,) = free_ports(1)
        self.config = root / "dovecot.conf"
        owner = pwd.getpwnam("nobody")
        for directory in (root / "state", self.mail):
            directory.mkdir(parents=True)
        os.chown(self.mail, owner.pw_uid, owner.pw_gid)
        users = root / "users"
        users.write_text(
            "".join(
                f"{user.address}:{{PLAIN}}{user.password}:{owner.pw_uid}:{owner.pw_gid}::"
                f"{self.mail / user.address}::"
                + (f"userdb_quota_rule=*:storage={user.quota}" if user.quota else "")
                + "\n"
                for user in USERS
            )
        )
        self.config.write_text(
            CONFIG.format(
                run=self.run,
                state=root / "state",
                log=root / "dovecot.log",
                uid=owner.pw_uid,
                domain=DOMAIN,
                users=users,
                port=self.lmtp_port,
            )
        )
        self.daemon = Daemon(
            "dovecot", [tool("dovecot"), "-c", str(self.config), "-F"], root / "dovecot.log"
        )

    @property
    def lmtp_socket(self) -> Path:
        return self.run / "lmtp"

    @property
    def auth_socket(self) -> Path:
        """The SASL socket Postfix's ``smtpd_sasl_path`` points at."""
        return self.run / "auth-client"

    def start(self) -> None:
        self.daemon.start(
            lambda: (
                greets(self.lmtp_port)
                and unix_listening(self.lmtp_socket)
                and unix_listening(self.auth_socket)
            )
        )

    def stop(self) -> None:
        self.daemon.stop()

    def maildir(self, address: str) -> Path:
        return self.mail / address / "Maildir"
