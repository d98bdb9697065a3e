"""smtpclient: an smtplib-compatible SMTP/LMTP client on a sans-I/O core."""
