"""The editing test desk on the databases the environment names, for ``actiondesk run``."""

import os

from tests.editing.editing_app import make_desk

desk = make_desk(os.environ["ACTIONDESK_DATABASE_URL"], os.environ["ACTIONDESK_STATE_URL"])
