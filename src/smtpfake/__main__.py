"""``python -m smtpfake``: the same as the ``smtpfake`` command."""

from ._cli import main

raise SystemExit(main())
