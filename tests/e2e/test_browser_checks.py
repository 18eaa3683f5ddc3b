"""The browser harness's own checks fail where they must: on pages made bad on purpose."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.e2e.browser import (
    accessibility_violations,
    assert_accessible,
    assert_fits_phone,
    assert_no_csp_violations,
)

GOOD_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>A good page</title>
<style>button, input { display: block; min-height: 44px; box-sizing: border-box; }</style>
</head><body><main><h1>A good page</h1>
<a href="#main" style="position: absolute; left: -9999px">Skip to content</a>
<p>Read the <a href="#terms">terms</a> first.</p>
<form><label for="q">Search</label><input id="q" name="q"><button>Go</button></form>
</main></body></html>"""

# no lang, an image without text, a field without a label, a button without a name
INACCESSIBLE_PAGE = """<!doctype html>
<html><head><title>Bad</title></head><body>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<input name="q"><button></button>
</body></html>"""

TOO_WIDE_PAGE = """<!doctype html>
<html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Wide</title></head><body><main>
<div style="width: 900px">a table that does not fold</div>
<a href="/next" style="display: inline-block; height: 20px">Next</a>
</main></body></html>"""

# the phone may not zoom out: the wide content scrolls sideways instead
SCROLLING_PAGE = """<!doctype html>
<html lang="en"><head>
<meta name="viewport" content="width=device-width, initial-scale=1, minimum-scale=1">
<title>Scrolls</title></head><body><main>
<div style="width: 900px">a table that does not fold</div>
</main></body></html>"""

NO_VIEWPORT_PAGE = """<!doctype html>
<html lang="en"><head><title>Desktop only</title></head><body><main><p>Hi</p></main></body></html>"""


async def test_a_good_page_passes_every_check(phone_page: Page) -> None:
    await phone_page.set_content(GOOD_PAGE)
    await assert_accessible(phone_page)
    await assert_fits_phone(phone_page)


async def test_the_accessibility_check_names_each_serious_violation(desktop_page: Page) -> None:
    await desktop_page.set_content(INACCESSIBLE_PAGE)
    found = {v["id"]: v["impact"] for v in await accessibility_violations(desktop_page)}
    assert {"html-has-lang", "image-alt", "label", "button-name"} <= set(found)
    with pytest.raises(AssertionError) as failure:
        await assert_accessible(desktop_page)
    message = str(failure.value)
    for rule in ("html-has-lang", "image-alt", "label", "button-name"):
        assert rule in message
    # a rule turned off is not reported
    with pytest.raises(AssertionError) as fewer:
        await assert_accessible(desktop_page, disabled_rules=["image-alt"])
    assert "image-alt" not in str(fewer.value)


async def test_the_phone_check_finds_sideways_scrolling_and_small_targets(phone_page: Page) -> None:
    await phone_page.set_content(TOO_WIDE_PAGE)
    with pytest.raises(AssertionError) as failure:
        await assert_fits_phone(phone_page)
    message = str(failure.value)
    assert "laid out 9" in message
    assert "wide to fit its content on a 360px screen" in message
    assert '<a> "Next" is 20px tall' in message


async def test_the_phone_check_finds_a_page_that_scrolls_sideways(phone_page: Page) -> None:
    await phone_page.set_content(SCROLLING_PAGE)
    with pytest.raises(AssertionError, match=r"scrolls sideways: 9[0-9]{2}px wide in a 360px"):
        await assert_fits_phone(phone_page)


async def test_the_phone_check_needs_a_viewport_meta(phone_page: Page) -> None:
    await phone_page.set_content(NO_VIEWPORT_PAGE)
    with pytest.raises(AssertionError, match='no <meta name="viewport"'):
        await assert_fits_phone(phone_page)


async def test_the_csp_check_reports_what_the_policy_refused(desktop_page: Page) -> None:
    # /docs carries a strict policy: an inline script added to it is refused
    await desktop_page.goto("/docs")
    await assert_no_csp_violations(desktop_page)
    with pytest.raises(Exception, match="Content Security Policy"):
        await desktop_page.add_script_tag(content="window.injected = true")
    with pytest.raises(AssertionError, match="script-src"):
        await assert_no_csp_violations(desktop_page)
