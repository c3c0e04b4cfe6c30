"""The console in a narrow window (800 px, a laptop's split screen): the header wraps instead of pushing
its last links, "Sign out" among them, off the page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [800, 600])
def test_at_a_narrow_width_the_header_wraps_and_sign_out_stays_on_screen(
    browser_page, live_server, live_cluster, sign_in, width
):
    page = browser_page
    # An Admin's header is the longest: Approvals and Audit log as well; the name is a long one too.
    sign_in("an-administrator-with-a-long-name", "Admin", f"{live_server.url}/clusters/local/groups/")
    page.set_viewport_size({"width": width, "height": 900})
    sign_out = page.get_by_role("button", name="Sign out")
    box = sign_out.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box
    assert page.evaluate("document.querySelector('header').scrollWidth") <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
