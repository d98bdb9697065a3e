"""pytest_smtpfake: pytest fixtures for the smtpfake server (registered through ``pytest11``).

The fixtures live in ``pytest_smtpfake.plugin``; this package exports the types their values
have, for annotations. Nothing here imports the fake server or its dependencies.
"""

from ._redirect import Connection, Redirect

__all__ = ["Connection", "Redirect"]
