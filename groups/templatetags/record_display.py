"""The record browser's key, value and header cells, built in Python: a page of 500 records holds
thousands of them, and an included template per cell made such a page take seconds to render."""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from groups.browse import ShownBytes

register = template.Library()
_HIDDEN = mark_safe(" hidden")


@register.simple_tag
def record_bytes(shown: ShownBytes) -> SafeString:
    """Every format that fits the bytes, only the chosen one visible; records.js switches between them."""
    if shown.is_null:
        return format_html('<div class="bytes" data-detected="null"><span class="muted null">{}</span></div>', "null")
    variants = format_html_join(
        "",
        '<pre data-format="{}"{}>{}{}</pre>',
        (
            (
                variant.format,
                "" if variant.format == shown.shown else _HIDDEN,
                variant.text,
                format_html('\n<span class="muted">… the first part of {} bytes</span>', shown.size)
                if variant.truncated
                else "",
            )
            for variant in shown.variants
        ),
    )
    return format_html(
        '<div class="bytes" data-detected="{}"><span class="badge kind shown-format">{}</span> '
        '<span class="muted refused">{}</span>\n{}</div>',
        shown.detected,
        shown.shown,
        f"not {shown.refused}" if shown.refused else "",
        variants,
    )
