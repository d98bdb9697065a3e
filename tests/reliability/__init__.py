"""Reliability: the client against hostile servers, the fake server against hostile clients."""
