"""smtpfake: a scriptable fake SMTP/LMTP server built on aiosmtpd."""
