"""Parsers of device show/state output (one module per platform family and transport)."""
