"""The background test desk built from ``ACTIONDESK_*`` variables (database, state, runner,
lease), for ``actiondesk serve`` / ``worker`` / ``run`` subprocesses."""

from tests.background.background_app import build_desk

desk = build_desk()
