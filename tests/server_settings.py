"""Settings of the gunicorn processes tests start (tests/web_server.py): production's, and a test's own
URLs (pytest's `urls` marker, named in TEST_ROOT_URLCONF), which the server must serve too."""

import os

from console.settings import *  # noqa: F403
from console.settings import ROOT_URLCONF

ROOT_URLCONF = os.environ.get("TEST_ROOT_URLCONF", ROOT_URLCONF)
