"""Signing in and out, the lockout, password changes and API tokens (database only, no broker)."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from groups import logins
from groups.models import ApiToken, AuditEvent, Cluster, LoginFailure

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def ann(make_user):
    return make_user("ann", "Viewer", password=PASSWORD)


def _login(client, username="ann", password=PASSWORD, next_url=None, ip="127.0.0.1"):
    data = {"username": username, "password": password, **({"next": next_url} if next_url else {})}
    return client.post(reverse("login"), data, REMOTE_ADDR=ip)


def _error(response) -> str:
    match = re.search(r'id="login-error">([^<]*)<', response.content.decode())
    assert match, "the login page shows no error"
    return match.group(1)


def _age_failures(seconds: float) -> None:
    """As if every recorded failure had happened `seconds` earlier."""
    LoginFailure.objects.update(time=F("time") - timedelta(seconds=seconds))


def test_a_signed_out_visitor_signs_in_and_lands_where_they_were_going(client, ann):
    response = client.get("/clusters/local/groups/?q=pay")
    assert response.status_code == 302
    assert response.url == "/login/?next=/clusters/local/groups/%3Fq%3Dpay"
    page = client.get(response.url)
    assert page.status_code == 200 and b'name="next" value="/clusters/local/groups/?q=pay"' in page.content
    signed_in = _login(client, next_url="/clusters/local/groups/?q=pay")
    assert signed_in.status_code == 302 and signed_in.url == "/clusters/local/groups/?q=pay"
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.source_ip, event.outcome) == ("login", "ann", "127.0.0.1", "succeeded")


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_next_never_leads_off_the_site(client, ann, next_url):
    response = _login(client, next_url=next_url)
    assert response.status_code == 302 and response.url == "/"


def test_a_wrong_password_is_refused_and_audited_without_the_password(client, ann):
    response = _login(client, password="Tr0ub4dor&3")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in _error(response)
    assert not client.session.get("_auth_user_id")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.outcome) == ("login_failed", "ann", "failed")
    stored = " ".join(str(v) for v in AuditEvent.objects.values().get().values())
    assert "Tr0ub4dor" not in stored
    assert LoginFailure.objects.get().username == "ann"


def _fail(client, times: int) -> None:
    """`times` failed attempts, each made once the one before may be tried (two free, then 2 s, 4 s, ...).

    The last is then dated now, as if the next attempt came at once: the wait the next refusal names
    is then the whole of it, however slowly a loaded machine runs the test.
    """
    for _ in range(times):
        _age_failures(30)
        assert "correct username and password" in _error(_login(client, password="wrong"))
    latest = LoginFailure.objects.latest("time")
    LoginFailure.objects.filter(pk=latest.pk).update(time=timezone.now())


def test_after_three_failures_the_next_attempt_must_wait_even_with_the_right_password(client, ann):
    _fail(client, 3)
    response = _login(client)
    assert _error(response) == "Too many failed sign-ins in a row: wait 2 seconds, then try again."
    assert not client.session.get("_auth_user_id")
    assert AuditEvent.objects.filter(action="login_failed", outcome="refused").count() == 1
    _age_failures(2)
    assert _login(client).status_code == 302


def test_each_further_failure_doubles_the_wait(client, ann):
    _fail(client, 4)
    assert "wait 4 seconds" in _error(_login(client))


def test_five_failures_lock_the_username_for_15_minutes_from_any_address(client, ann):
    _fail(client, 5)  # over 2 minutes: well within 15
    message = _error(_login(client, ip="10.9.9.9"))
    assert message.startswith(
        "Too many failed sign-ins for this username or from this address: signing in is locked until "
    )
    assert "(15 min)" in message or "(14 min)" in message
    _age_failures(14 * 60)
    assert "locked until" in _error(_login(client))
    _age_failures(60)
    assert _login(client).status_code == 302
    # Refused attempts checked no password and did not count as failures.
    assert LoginFailure.objects.count() == 0  # and the success wiped the username's slate


def test_a_lock_on_one_username_leaves_others_alone(client, ann, make_user):
    make_user("bob", "Viewer", password=PASSWORD)
    _fail(client, 5)
    assert "locked until" in _error(_login(client))
    assert _login(Client(), username="bob").status_code == 302


def test_many_failures_from_one_address_lock_that_address_for_every_username(client, ann):
    for n in range(logins.FAILURES_PER_ADDRESS):
        LoginFailure.objects.create(username=f"guess-{n}", source_ip="10.0.0.66")
    assert "locked until" in _error(_login(client, ip="10.0.0.66"))
    assert _login(client, ip="10.0.0.67").status_code == 302


def test_a_successful_sign_in_forgets_earlier_typos(client, ann):
    _fail(client, 2)
    assert _login(client).status_code == 302
    assert not LoginFailure.objects.filter(username="ann").exists()


def test_an_inactive_user_cannot_sign_in(client, ann):
    ann.is_active = False
    ann.save()
    assert "Please enter a correct username" in _error(_login(client))


def test_signing_out_takes_a_post_ends_the_session_and_is_audited(client, ann):
    client.force_login(ann)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"), REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200 and b"signed out" in response.content
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.source_ip) == ("logout", "ann", "10.1.2.3")
    assert client.get("/").status_code == 302


def test_every_page_offers_the_account_links_and_a_sign_out_button(client, ann):
    client.force_login(ann)
    body = client.get("/").content.decode()
    assert '<span id="signed-in-as">ann</span>' in body
    assert f'action="{reverse("logout")}"' in body and 'name="csrfmiddlewaretoken"' in body
    assert f'href="{reverse("api_token")}"' in body and f'href="{reverse("password_change")}"' in body
    assert 'href="/admin/"' not in body  # not staff


def test_changing_the_password_needs_the_old_one_and_is_audited(client, ann):
    client.force_login(ann)
    url = reverse("password_change")
    assert client.get(url).status_code == 200
    wrong = client.post(
        url, {"old_password": "nope", "new_password1": "a new long phrase 42", "new_password2": "a new long phrase 42"}
    )
    assert wrong.status_code == 200 and b"Your old password was entered incorrectly" in wrong.content
    weak = client.post(url, {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"})
    assert weak.status_code == 200 and b"too short" in weak.content
    done = client.post(
        url,
        {"old_password": PASSWORD, "new_password1": "a new long phrase 42", "new_password2": "a new long phrase 42"},
    )
    assert done.status_code == 302 and done.url == reverse("password_change_done")
    assert client.get(done.url).status_code == 200
    assert list(AuditEvent.objects.values_list("action", "actor")) == [("password_changed", "ann")]
    assert _login(Client(), password="a new long phrase 42").status_code == 302


def test_django_admin_signs_in_through_the_console_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    to_login = client.get(response.url)
    assert to_login.status_code == 302 and to_login.url == "/login/?next=/admin/"


def test_an_htmx_refresh_after_the_session_ended_sends_the_whole_page_to_the_login(client):
    response = client.get(
        "/clusters/local/groups/?page=2",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/clusters/local/groups/?page=2",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/?next=/clusters/local/groups/%3Fpage%3D2"


def test_a_new_api_key_is_shown_once_and_only_its_hash_is_kept(client, ann):
    client.force_login(ann)
    url = reverse("api_token")
    assert b"You have no key" in client.get(url).content
    created = client.post(url)
    assert created["Cache-Control"].startswith("max-age=0") and "no-store" in created["Cache-Control"]
    key = re.search(r'<code id="new-key">([^<]+)</code>', created.content.decode()).group(1)
    token = ApiToken.objects.get(user=ann)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    again = client.get(url).content.decode()
    assert key not in again and "You have a key" in again and "not used yet" in again
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["api_token_created"]


def test_the_api_takes_a_valid_token_and_answers_401_to_anything_else(ann, make_user):
    Cluster.objects.create(name="prod", bootstrap_servers="127.0.0.1:1")
    key = ApiToken.issue(ann)
    api = Client()
    url = reverse("api:api_clusters")

    response = api.get(url, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and [c["name"] for c in response.json()["clusters"]] == ["prod"]
    assert ApiToken.objects.get(user=ann).last_used is not None
    assert "sessionid" not in response.cookies

    for header in (f"Token {key}x", f"Bearer {key}", "Token ", key):
        refused = api.get(url, HTTP_AUTHORIZATION=header)
        assert refused.status_code == 401, header
        assert refused["WWW-Authenticate"] == 'Token realm="api"'
        assert "API token is not valid" in refused.json()["error"]
    anonymous = api.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "UNAUTHENTICATED"
    assert api.get(reverse("api:api_groups", args=["prod"])).status_code == 401


def test_a_replaced_or_revoked_key_or_an_inactive_owner_no_longer_opens_the_api(client, ann):
    url = reverse("api:api_clusters")
    old = ApiToken.issue(ann)
    new = ApiToken.issue(ann)
    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {old}").status_code == 401
    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {new}").status_code == 200
    ann.is_active = False
    ann.save()
    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {new}").status_code == 401
    ann.is_active = True
    ann.save()
    client.force_login(ann)
    client.post(reverse("api_token"), {"action": "revoke"})
    assert not ApiToken.objects.exists()
    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {new}").status_code == 401


def test_a_token_opens_the_api_only_not_the_pages(ann):
    key = ApiToken.issue(ann)
    assert Client().get("/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 302


def test_a_password_typed_as_the_username_never_enters_the_audit_log(client, ann):
    response = _login(client, username="Tr0ub4dor&3", password="whatever")
    assert response.status_code == 200 and not client.session.get("_auth_user_id")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor) == ("login_failed", "(no such user)")
    stored = " ".join(str(v) for v in AuditEvent.objects.values().get().values())
    assert "Tr0ub4dor" not in stored
