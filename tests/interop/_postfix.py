"""A private Postfix instance: its own config directory, queue, loopback ports and Maildirs.

Nothing of the system's Postfix configuration is read or changed: ``postfix -c DIR check``
creates the queue under ``DIR``, and the master daemon runs in the foreground with ``-c DIR``.
Postfix reads only its package's own metadata (``meta_directory``, ``postfix-files``).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ._daemon import Daemon, free_ports, greets
from ._messages import DOMAIN
from ._tools import tool

HOSTNAME = "mx.interop.test"
#: The instance's limits, raised for the tests that need them (10,000 recipients, 20 MiB).
RECIPIENT_LIMIT = 20_000
MESSAGE_SIZE_LIMIT = 64 * 1024 * 1024

# inbox@ (and inbox+TAG@, the tag marking one test's mail) is delivered to the Maildir "inbox",
# many-N@ to "many"; every other address in the domain is unknown (refused at RCPT).
MAILBOXES = f"inbox@{DOMAIN} inbox/\n"
MANY = rf"/^many-[0-9]+@{re.escape(DOMAIN)}$/ many/" + "\n"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
maillog_file = {log}
maillog_file_prefixes = {log}
syslog_name = postfix-interop
myhostname = {hostname}
mydomain = {domain}
myorigin = $mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = $myhostname ESMTP Postfix (smtpclient interop)
biff = no
alias_maps =
alias_database =
local_recipient_maps =
notify_classes =

# Mail from loopback clients is not rewritten and gets no added headers, so what a client
# sends is what is delivered (after the Received, Return-Path... headers added on the way).
local_header_rewrite_clients =
smtputf8_enable = yes

# Only the test domain is delivered (into Maildirs); everything else bounces at once.
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{config}/mailboxes, regexp:{config}/many
recipient_delimiter = +
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = {uid}
virtual_mailbox_limit = 0
default_transport = error:the interop instance delivers only to {domain}
relay_transport = $default_transport

# Fast and roomy: no delays on errors or load, 10,000 recipients, 20 MiB messages.
in_flow_delay = 0
smtpd_error_sleep_time = 0
smtpd_recipient_limit = {recipient_limit}
message_size_limit = {size_limit}
mailbox_size_limit = 0
# Few delivery processes with many recipients each: 10,000 deliveries in about a second here.
virtual_destination_concurrency_limit = 4
virtual_destination_recipient_limit = 1000

smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_tls_chain_files = {config}/key.pem, {config}/cert.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {sasl_socket}
"""

# The submission-like port requires STARTTLS and AUTH; the SMTPS port is implicit TLS.
MASTER_CF = """\
127.0.0.1:{smtp} inet n - n - - smtpd
127.0.0.1:{submission} inet n - n - - smtpd
  -o syslog_name=postfix-interop/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
127.0.0.1:{smtps} inet n - n - - smtpd
  -o syslog_name=postfix-interop/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
proxymap unix - - n - - proxymap
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


@dataclass(frozen=True)
class PostfixPorts:
    smtp: int
    submission: int
    smtps: int


class Postfix:
    """A private Postfix under ``root``; ``start()`` it, ``stop()`` it, read ``maildir(name)``."""

    def __init__(self, root: Path, cert_pem: bytes, key_pem: bytes, sasl_socket: Path) -> None:
        self.root = root
        self.config = root / "etc"
        self.mail = root / "mail"
        self.ports = PostfixPorts(*free_ports(3))
        for directory in (self.config, root / "spool", root / "data", self.mail):
            directory.mkdir(parents=True)
        owner = pwd.getpwnam("nobody")
        os.chown(self.mail, owner.pw_uid, owner.pw_gid)
        os.chown(root / "data", pwd.getpwnam("postfix").pw_uid, grp.getgrnam("postfix").gr_gid)
        (self.config / "cert.pem").write_bytes(cert_pem)
        key = os.open(self.config / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(key, "wb") as f:
            f.write(key_pem)
        (self.config / "mailboxes").write_text(MAILBOXES)
        (self.config / "many").write_text(MANY)
        (self.config / "main.cf").write_text(
            MAIN_CF.format(
                spool=root / "spool",
                data=root / "data",
                log=root / "maillog",
                config=self.config,
                mail=self.mail,
                uid=owner.pw_uid,
                gid=owner.pw_gid,
                hostname=HOSTNAME,
                domain=DOMAIN,
                recipient_limit=RECIPIENT_LIMIT,
                size_limit=MESSAGE_SIZE_LIMIT,
                sasl_socket=sasl_socket,
            )
        )
        (self.config / "master.cf").write_text(
            MASTER_CF.format(
                smtp=self.ports.smtp, submission=self.ports.submission, smtps=self.ports.smtps
            )
        )
        # Postfix waits until a table or main.cf it loads is at least a second old (in case
        # it is still being written); these are complete, so date them back.
        for written in self.config.iterdir():
            os.utime(written, (time.time() - 60, time.time() - 60))
        daemon_directory = postconf(self.config, "daemon_directory")
        self.daemon = Daemon(
            "postfix", [f"{daemon_directory}/master", "-c", str(self.config)], root / "maillog"
        )

    def start(self) -> None:
        """Check (and create) the queue, then run the master daemon until it greets (it opens
        every listener before it serves any)."""
        check = subprocess.run(
            [tool("postfix"), "-c", str(self.config), "check"],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0:
            raise self.daemon.fail(f"postfix check failed: {check.stdout}{check.stderr}")
        self.daemon.start(
            lambda: all(greets(port) for port in (self.ports.smtp, self.ports.submission))
        )

    def stop(self) -> None:
        self.daemon.stop()

    def maildir(self, name: str) -> Path:
        """The Maildir ``name`` (``inbox`` or ``many``)."""
        return self.mail / name

    @property
    def tcp_ports(self) -> tuple[int, ...]:
        return (self.ports.smtp, self.ports.submission, self.ports.smtps)


def postconf(config: Path, name: str) -> str:
    """One parameter's value in the instance at ``config``."""
    return subprocess.run(
        [tool("postconf"), "-c", str(config), "-h", name],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
