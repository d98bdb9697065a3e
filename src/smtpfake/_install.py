"""How to install the ``fake`` extra, for the messages that say it is missing (stdlib only).

The ``smtpfake`` command and the pytest fixtures both name it when aiosmtpd or trustme cannot be
imported, so this module must import without them.
"""

from __future__ import annotations

import importlib.metadata
import json
import urllib.parse

__all__ = ["install_hint"]


def install_hint() -> str:
    """How to install the ``fake`` extra: from the checkout this project was installed from.

    The project is not on PyPI, so ``pip install 'smtpclient[fake]'`` would find nothing (or
    somebody else's package). pip records where a distribution came from (PEP 610's
    ``direct_url.json``): a local checkout is named by its path, with ``-e`` if it was
    installed editable.
    """
    for dist in importlib.metadata.distributions(name="smtpclient"):
        try:
            origin = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        url = urllib.parse.urlparse(str(origin.get("url", "")))
        if url.scheme == "file":
            editable = "-e " if origin.get("dir_info", {}).get("editable") else ""
            return f"pip install {editable}'{urllib.parse.unquote(url.path)}[fake]'"
    return "pip install '/path/to/smtpclient[fake]' (a checkout of smtpclient)"
