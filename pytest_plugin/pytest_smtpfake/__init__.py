"""pytest_smtpfake: pytest fixtures for the smtpfake server (registered through ``pytest11``)."""
