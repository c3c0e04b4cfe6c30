"""The forms' errors by their fields, the typed confirmation of a deletion, and times written for times.js."""

from datetime import datetime, timedelta, timezone

import pytest
from django.template import Context, Template, TemplateSyntaxError

from groups.forms import DeleteGroupForm, PreferencesForm, ReplayForm, ResetForm
from groups.templatetags.times import when

NOON_MS = 1_764_590_400_000  # 2025-12-01 12:00:00 UTC


def _reset(**fields) -> ResetForm:
    data = {"strategy": "to-earliest", "value": "", "scope_mode": "all", "scope": "", **fields}
    return ResetForm(data)


def test_a_time_is_written_in_utc_with_its_exact_instant_for_the_script():
    tokyo = timezone(timedelta(hours=9))
    shown = when(datetime(2025, 12, 1, 21, 0, 5, 250_000, tzinfo=tokyo))
    assert shown == (
        '<time datetime="2025-12-01T12:00:05.250Z" title="2025-12-01 12:00:05 UTC" data-when="at">'
        "2025-12-01 12:00:05 UTC</time>"
    )


def test_epoch_milliseconds_are_times_too_and_ago_asks_for_how_long_ago():
    assert when(NOON_MS, "ago") == (
        '<time datetime="2025-12-01T12:00:00.000Z" title="2025-12-01 12:00:00 UTC" data-when="ago">'
        "2025-12-01 12:00:00 UTC</time>"
    )


def test_a_record_timestamp_keeps_its_milliseconds_and_one_no_date_can_hold_is_shown_as_it_is():
    assert when(NOON_MS + 7, "ms") == (
        '<time datetime="2025-12-01T12:00:00.007Z" title="2025-12-01 12:00:00.007 UTC" data-when="ms">'
        "2025-12-01 12:00:00.007 UTC</time>"
    )
    assert when(-1, "ms") == "epoch ms -1"
    assert when(10**18) == f"epoch ms {10**18}"


def test_a_missing_time_is_a_dash_and_an_unknown_style_is_a_template_error():
    assert when(None) == "—"
    with pytest.raises(TemplateSyntaxError, match="unknown style 'soon'"):
        when(NOON_MS, "soon")


def test_the_page_says_utc_for_a_user_who_prefers_it_and_local_otherwise(db, django_user_model, rf):
    from django.contrib.auth.models import AnonymousUser

    from groups.models import UserPreferences

    template = Template("{% load times %}{% time_zone_preference %}")
    request = rf.get("/")
    request.user = django_user_model.objects.create_user("ann")
    assert template.render(Context({"request": request})) == "local"
    UserPreferences.objects.create(user=request.user, times_in_utc=True)
    assert template.render(Context({"request": request})) == "utc"
    request.user = AnonymousUser()
    assert template.render(Context({"request": request})) == "local"


def test_the_preferences_form_saves_the_choice_of_utc(db, django_user_model):
    from groups.models import UserPreferences

    preferences = UserPreferences(user=django_user_model.objects.create_user("bo"))
    assert PreferencesForm.for_user(preferences).initial == {"times": "local"}
    form = PreferencesForm.for_user(preferences, {"times": "utc"})
    assert form.is_valid()
    form.save(preferences)
    assert UserPreferences.objects.get(user__username="bo").times_in_utc is True
    assert not PreferencesForm.for_user(preferences, {"times": "Tokyo"}).is_valid()


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"strategy": "to-offset", "value": "abc"}, "value", "The offset must be a whole number"),
        ({"strategy": "shift-by", "value": "1.5"}, "value", "The shift must be a whole number"),
        ({"strategy": "to-datetime", "value": "yesterday"}, "value", "Invalid date and time 'yesterday'"),
        ({"strategy": "by-duration", "value": "soon"}, "value", "soon"),
        ({"strategy": "to-offset", "value": " "}, "value", "The strategy 'Offset' needs a value: an offset, such as"),
        ({"strategy": "from-file"}, "file", "Choose the reset file to upload"),
        ({"scope_mode": "topics", "scope": ""}, "scope", "Name at least one topic"),
        ({"scope_mode": "topics", "scope": "orders:x"}, "scope", "Invalid partition 'x'"),
    ],
)
def test_a_reset_form_mistake_is_told_by_its_field(fields, field, message):
    form = _reset(**fields)
    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert message in form.errors[field][0]


def test_an_empty_reset_file_is_told_once():
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"strategy": "from-file", "value": "", "scope_mode": "all", "scope": ""}
    form = ResetForm(data, {"file": SimpleUploadedFile("offsets.csv", b"")})
    assert not form.is_valid()
    assert form.errors["file"] == ["The submitted file is empty."]


def test_a_strategy_ignores_the_fields_it_does_not_use():
    # A value typed for another strategy, or a bad scope with "all topics", is what the form hid: not an error.
    assert _reset(strategy="to-earliest", value="abc", scope="orders:x").is_valid()
    assert _reset(strategy="to-datetime", value="2025-12-01T09:00:00+09:00").is_valid()


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"partitions_mode": "some", "partitions": "0,x"}, "partitions", "'x' is not one"),
        ({"offsets": "0:a-b"}, "offsets", "Cannot read the offsets"),
        ({"range_mode": "time", "time_from": "soon", "time_to": "2025-12-01T10:00:00"}, "time_from", "soon"),
        ({"key_filter": "equals", "key": ""}, "key", "Give the key to match"),
        ({"header_filter": "present"}, "header_name", "Give the header name to match"),
    ],
)
def test_a_replay_form_mistake_is_told_by_its_field(fields, field, message):
    data = {
        "partitions_mode": "all",
        "range_mode": "offsets",
        "offsets": "0:0-10",
        "key_filter": "none",
        "header_filter": "none",
        "target_topic": "copy",
        "partitioning": "same",
        "timestamps": "keep",
        **fields,
    }
    form = ReplayForm(data, topic="orders", topics=["orders", "copy"], partition_count=lambda: 2)
    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert message in form.errors[field][0]


@pytest.mark.parametrize("typed", ["", "orders-consumer ", "Orders-Consumer", "orders"])
def test_deleting_a_group_needs_its_id_typed_exactly(typed):
    form = DeleteGroupForm({"reason": "retired", "confirm_group": typed}, group_id="orders-consumer")
    assert not form.is_valid()
    assert list(form.errors) == ["confirm_group"]
    assert "orders-consumer" in form.errors["confirm_group"][0]


def test_the_typed_group_id_confirms_the_deletion():
    form = DeleteGroupForm({"reason": "retired", "confirm_group": "orders-consumer"}, group_id="orders-consumer")
    assert form.is_valid()


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"strategy": "to-offset", "value": "x"}, "value", "The offset must be a whole number"),
        ({"strategy": "to-datetime", "value": ""}, "value", "needs a value"),
        ({"scope_mode": "topics", "scope": ""}, "scope", "or choose all share-partitions of the group"),
    ],
)
def test_a_share_reset_form_mistake_is_told_by_its_field(fields, field, message):
    from groups.forms_share import ShareResetForm

    form = ShareResetForm({"strategy": "to-earliest", "value": "", "scope_mode": "all", "scope": "", **fields})
    assert not form.is_valid()
    assert list(form.errors) == [field]
    assert message in form.errors[field][0]


def test_a_typed_scope_of_an_offset_deletion_that_does_not_read_is_told_by_its_field():
    from groups.forms_offset_deletion import OffsetDeletionForm

    form = OffsetDeletionForm({"topics": ["orders"], "scope": "payments:one"})
    assert not form.is_valid()
    assert list(form.errors) == ["scope"] and "Invalid partition 'one'" in form.errors["scope"][0]
    nothing = OffsetDeletionForm({})
    assert not nothing.is_valid() and "Choose at least one topic or partition" in nothing.non_field_errors()[0]
