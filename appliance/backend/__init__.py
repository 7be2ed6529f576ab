"""The web face: app factory, security, server, routes (thin: parse, call, answer)."""
