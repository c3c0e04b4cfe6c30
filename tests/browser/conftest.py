"""Debian's Chromium driven through Playwright's sync API, against the console as production serves it:
gunicorn with DEBUG off and whitenoise (tests/web_server.py), on the test database and Redis.

Playwright's sync API runs an asyncio event loop in the test thread; Django refuses ORM calls
from a thread with a running loop unless told otherwise. The ORM calls here stay synchronous
(fixtures in the test thread), so allowing them is safe.
"""

import os

import pytest
from django.conf import settings
from django.test import override_settings

from tests.web_server import WebServer, production_like_env

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
    """The Cluster row "local" on the real broker, committed so the web server's processes see it."""
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


class ConsoleServer(WebServer):
    # pytest-django's own helper (autouse) enables and disables this around every test that asks for
    # `live_server`; the server is another process, so there is nothing to change here.
    _live_server_modified_settings = override_settings()


@pytest.fixture(scope="session")
def console_servers(django_db_setup, redis_url, static_root, tmp_path_factory):
    """server_for(urlconf): one gunicorn per URL configuration, started when first asked for, kept for the run."""
    from tests.databases import shared_database_url

    state = tmp_path_factory.mktemp("gunicorn")
    env = production_like_env(shared_database_url(), redis_url, static_root)
    servers: dict[str, ConsoleServer] = {}
    # Sessions and preview tokens a test makes in this process (Client.force_login, signed previews) must
    # open in the server: both sign with the server's key for the run.
    test_process_key = settings.SECRET_KEY
    settings.SECRET_KEY = env["SECRET_KEY"]

    def server_for(urlconf: str) -> ConsoleServer:
        if urlconf not in servers:
            log_path = state / f"{urlconf.replace('.', '-')}.log"
            # One process of eight threads: a browser test is one user, and a second process only cost
            # start-up time (the two-machine proof in tests/integration runs several).
            servers[urlconf] = ConsoleServer({**env, "TEST_ROOT_URLCONF": urlconf}, log_path, workers=1, threads=8)
        return servers[urlconf]

    try:
        yield server_for
    finally:
        settings.SECRET_KEY = test_process_key
        for server in servers.values():
            server.stop()


@pytest.fixture
def live_server(request, transactional_db, console_servers):
    """Replaces pytest-django's live server (Django's development server in a thread of the test process)
    with gunicorn, for the URLs the test's `urls` marker names (the console's by default)."""
    marker = request.node.get_closest_marker("urls")
    return console_servers(marker.args[0] if marker else "console.urls")
