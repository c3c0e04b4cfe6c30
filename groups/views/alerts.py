"""The alerts page, the rule list (read-only for whoever may only view the groups a rule concerns), and the
pages that manage alert rules (for users with the `alert` action)."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from groups import access, audit
from groups.alerting import rules
from groups.alerting.overview import RECENT_EPISODES, overview_for
from groups.forms_alerts import AlertRuleForm
from groups.models import AlertRule


def _get_rule(request: HttpRequest, pk: int) -> AlertRule:
    """The rule, if the user may manage it (a refusal says what is missing and is recorded)."""
    rule = AlertRule.objects.select_related("cluster").filter(pk=pk).first()
    if rule is None:
        raise Http404(f"Alert rule #{pk} does not exist.")
    rules.require_manageable(request, rule)
    return rule


@require_GET
def alert_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    return render(
        request,
        "groups/alerts.html",
        {
            "overview": overview_for(request.user, now),
            "now": now,
            "episode_days": settings.ALERT_EPISODE_RETENTION_DAYS,
            "episode_limit": RECENT_EPISODES,
            "may_alert": access.allowed(request.user, "alert"),
            "may_read_rules": access.allowed(request.user, "view"),
            "needs": access.ROLE_NEEDED,
            "rule_count": AlertRule.objects.count(),
        },
    )


@require_GET
def alert_rules(request: HttpRequest) -> HttpResponse:
    access.require(request, "view")
    shown = [
        {
            "rule": rule,
            "conditions": rules.condition_texts(rule),
            "manageable": manageable,
            "webhook": rules.webhook_shown(rule, manageable),
        }
        for rule, manageable in rules.readable_rules(request.user)
    ]
    context = {"rows": shown, "may_alert": access.allowed(request.user, "alert"), "needs": access.ROLE_NEEDED}
    return render(request, "groups/alert_rules.html", context)


def _form_page(
    request: HttpRequest, form: AlertRuleForm, rule: tuple[int, str] | None = None, status: int = 200
) -> HttpResponse:
    """The new-rule form, or the form of rule (pk, name as stored)."""
    pk, name = rule or (None, "")
    return render(
        request, "groups/alert_rule_form.html", {"form": form, "rule_pk": pk, "rule_name": name}, status=status
    )


@require_GET
def alert_rule_new(request: HttpRequest) -> HttpResponse:
    access.require(request, "alert")
    return _form_page(request, AlertRuleForm(user=request.user))


@require_POST
def alert_rule_create(request: HttpRequest) -> HttpResponse:
    access.require(request, "alert")
    form = AlertRuleForm(request.POST, user=request.user)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    rules.save_rule(form.save(commit=False), user=request.user, before=None, source_ip=audit.source_ip(request))
    return redirect("alert_rules")


@require_GET
def alert_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _get_rule(request, pk)
    return _form_page(request, AlertRuleForm(instance=rule, user=request.user), (rule.pk, rule.name))


@require_POST
def alert_rule_save(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _get_rule(request, pk)
    before = rules.snapshot(rule)
    form = AlertRuleForm(request.POST, instance=rule, user=request.user)
    if not form.is_valid():
        # The form wrote the bad values into the instance; the page names the rule as it is stored.
        return _form_page(request, form, (pk, before["name"]), status=400)
    rules.save_rule(form.save(commit=False), user=request.user, before=before, source_ip=audit.source_ip(request))
    return redirect("alert_rules")


@require_GET
def alert_rule_delete_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _get_rule(request, pk)
    return render(request, "groups/alert_rule_delete.html", {"rule": rule, "conditions": rules.condition_texts(rule)})


@require_POST
def alert_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rules.delete_rule(_get_rule(request, pk), user=request.user, source_ip=audit.source_ip(request))
    return redirect("alert_rules")
