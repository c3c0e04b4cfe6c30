"""What a visit to a page must not do, seen from the browser: axe-core's serious and critical findings,
console errors, failed requests and unexpected statuses.

The axe-core file is vendored for tests only (tests/browser/vendor, fetched by `make vendor`); the
console never serves it, so it is injected into each page after the page has loaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
# The WCAG 2.x A and AA rules plus axe's best practices: what an operator's screen reader or a low-vision
# reader trips on.
HTMX_BUSY = ".htmx-request, .htmx-swapping, .htmx-settling"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@dataclass
class Visit:
    """What one page load showed: its document status and everything that went wrong on the way."""

    url: str
    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # load, htmx (fragments settling), axe

    def problems(self, expected_status: int) -> list[str]:
        found = []
        if self.status != expected_status:
            found.append(f"status {self.status}, expected {expected_status}")
        found += [f"console error: {text}" for text in self.console_errors]
        found += [f"request failed: {text}" for text in self.failed_requests]
        found += [f"response: {text}" for text in self.bad_responses]
        found += [describe_violation(v) for v in self.violations]
        return found


def describe_violation(violation: dict) -> str:
    targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
    more = len(violation["nodes"]) - 3
    return (
        f"axe {violation['impact']} {violation['id']}: {violation['help']} "
        f"({targets}{f' and {more} more' if more > 0 else ''})"
    )


def visit(context, url: str, *, expected_status: int, rules: list[str] | None = None, axe: bool = True) -> Visit:
    """Open `url` in a fresh tab of `context`, let it settle, run axe on it (unless `axe` is False) and close
    the tab.

    A fresh tab per page keeps the requests one page aborts on leaving (an htmx poll in flight)
    from being counted against the next one. The document's own status is compared, not reported
    as a failed response: a refusal (403) is the page some roles must get. `rules` narrows axe to
    those rule ids.
    """
    seen = Visit(url)
    page = context.new_page()

    def on_console(message) -> None:
        if message.type != "error":
            return
        # Chromium reports a document answered with an error status as a console error too; that
        # status is checked against the expected one instead.
        location = message.location.get("url", "")
        if location == url and message.text.startswith("Failed to load resource") and expected_status >= 400:
            return
        seen.console_errors.append(f"{message.text} ({location})")

    def on_response(response) -> None:
        if response.request.is_navigation_request() and response.request.frame == page.main_frame:
            return
        if response.status >= 400:
            seen.bad_responses.append(f"{response.status} {response.request.method} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.console_errors.append(f"uncaught: {error}"))
    page.on("requestfailed", lambda r: seen.failed_requests.append(f"{r.method} {r.url}: {r.failure}"))
    page.on("response", on_response)
    try:
        started = time.monotonic()
        response = page.goto(url, wait_until="load")
        seen.status = response.status if response else None
        loaded = time.monotonic()
        # Fragments htmx loads with the page belong to it: wait until none is in flight or being swapped in.
        # (htmx marks them with these classes; the pages make no other requests of their own after "load",
        # and Playwright's "networkidle" would cost half a second of silence per page.)
        page.wait_for_function(f"() => !document.querySelector('{HTMX_BUSY}')", polling=50)
        settled = time.monotonic()
        if axe:
            page.add_script_tag(path=str(AXE))
            options: dict = {"resultTypes": ["violations"]}
            options["runOnly"] = {"type": "rule", "values": rules} if rules else {"type": "tag", "values": AXE_TAGS}
            result = page.evaluate("(options) => axe.run(document, options)", options)
            seen.violations = [v for v in result["violations"] if v["impact"] in BLOCKING_IMPACTS]
        seen.seconds = {"load": loaded - started, "htmx": settled - loaded, "axe": time.monotonic() - settled}
    finally:
        page.close()
    return seen


def background_luminance(context, url: str) -> float:
    """The relative luminance (0 black .. 1 white, WCAG's formula) of the page's body background."""
    page = context.new_page()
    try:
        page.goto(url)
        return page.evaluate(
            """() => {
              const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+(\\.\\d+)?/g).map(Number);
              const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
              return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
            }"""
        )
    finally:
        page.close()
