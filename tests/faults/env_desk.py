"""The faults test desk built from ``ACTIONDESK_*`` variables, for ``actiondesk serve``
subprocesses that a test kills."""

import os

from tests.faults.test_database_faults import build_desk

desk = build_desk(os.environ["ACTIONDESK_DATABASE_URL"], os.environ["ACTIONDESK_STATE_URL"])
