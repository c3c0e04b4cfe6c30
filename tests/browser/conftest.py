"""Debian's Chromium driven through Playwright's sync API, against pytest-django's live_server.

Playwright's sync API runs an asyncio event loop in the test thread; Django refuses ORM calls
from a thread with a running loop unless told otherwise. The ORM calls here stay synchronous
(fixtures and the live server's own thread), so allowing them is safe.
"""

import os

import pytest

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page():
    """A fresh headless Chromium page; the browser and its profile go away after the test."""
    if not os.access(CHROMIUM, os.X_OK):
        # `make test` installs it; a missing browser is a broken setup, not a reason to pass untested.
        pytest.fail(
            f"{CHROMIUM} is not installed: run `make test` (or `apt-get install chromium`) to install it.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,  # Playwright gives launch() a fresh temporary profile of its own.
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(20_000)
            yield page
            context.close()
        finally:
            browser.close()


@pytest.fixture
def live_cluster(transactional_db, live_server, kafka_bootstrap):
    """The Cluster row "local" on the real broker, visible to the live server's thread."""
    from groups.models import Cluster

    return Cluster.objects.create(name="local", bootstrap_servers=kafka_bootstrap)


@pytest.fixture
def sign_in(browser_page, live_server, make_user):
    """sign_in("ann", "Operator", url): a user with that role on every cluster opens `url` while signed
    out, is sent to the login page, signs in there and lands back on `url`."""

    def sign(username: str, role: str, url: str) -> None:
        password = f"{username}-browser-password"
        make_user(username, role, password=password)
        page = browser_page
        page.goto(url)
        assert page.url.startswith(f"{live_server.url}/login/?next="), page.url
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        assert page.url == url
        assert page.locator("#signed-in-as").inner_text().strip() == username

    return sign
