"""The pytest plugin module: fixtures and the ``smtpfake`` marker."""
