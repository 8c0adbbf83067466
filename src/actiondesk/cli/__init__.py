"""The ``actiondesk`` command: serve, check, migrate, demo, run and follow actions, workers,
users, roles, tokens, permissions and remote providers (one module per group of commands)."""

from actiondesk.cli.main import app, main

__all__ = ["app", "main"]
