"""Settings of the gunicorn processes tests start (tests/web_server.py): production's, and only what a
test needs besides.

- TEST_ROOT_URLCONF: a test's own URLs (pytest's `urls` marker), which the server must serve too.
- The audit key: the test process and its Celery worker sign audit events with the development key,
  and one chain must verify across them all. Production refuses that key with DEBUG off (as it
  should), so the server starts with a throwaway key and is then given the development one.
"""

import os
import secrets

os.environ["AUDIT_HMAC_KEY"] = f"throwaway:{secrets.token_urlsafe(48)}"

from console.settings import *  # noqa: E402, F403
from console.settings import PLACEHOLDER_AUDIT_KEY, ROOT_URLCONF  # noqa: E402

ROOT_URLCONF = os.environ.get("TEST_ROOT_URLCONF", ROOT_URLCONF)
_key_id, _, _secret = PLACEHOLDER_AUDIT_KEY.partition(":")
AUDIT_HMAC_KEYS = {_key_id: _secret}
