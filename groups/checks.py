"""System checks `manage.py check --deploy` runs for the console."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def audit_key_is_not_the_placeholder(app_configs, **kwargs) -> list[Warning]:
    # With DEBUG off the settings refuse the placeholder outright; this tells in advance, like Django's own
    # SECRET_KEY check, before a deployment is switched over.
    placeholder = settings.PLACEHOLDER_AUDIT_KEY.partition(":")[2]
    if placeholder not in settings.AUDIT_HMAC_KEYS.values():
        return []
    return [
        Warning(
            "The audit log is keyed with the development placeholder, which anyone can read in the source: "
            "whoever can write to the database can forge audit events.",
            hint="Set AUDIT_HMAC_KEY (or AUDIT_HMAC_KEY_FILE) to ID:SECRET with a long random SECRET, e.g. "
            "2025-01:$(python -c 'import secrets; print(secrets.token_urlsafe(48))').",
            id="groups.W001",
        )
    ]
