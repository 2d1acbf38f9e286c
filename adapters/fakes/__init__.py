"""Shared machinery of the vendor fakes: a real HTTP server on 127.0.0.1 with a control API."""
