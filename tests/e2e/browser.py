"""Debian's Chromium driven by Playwright, and the checks every page must pass.

Playwright's async API, on pytest-asyncio's one loop: the browser tests are `async def` and
can use the async fixtures of tests/conftest.py too. (The sync API would leave its own loop
set as running in the test process, which breaks every async test that runs after it.)

- `assert_accessible(page)`: axe-core (npm, pinned in tests/e2e/package-lock.json) finds no
  violation of impact serious or critical.
- `assert_fits_phone(page)`: at the phone viewport, no horizontal scrolling, and every
  visible link, button and field is a tap target at least 44 px tall.
- `assert_no_csp_violations(page)`: the page's Content-Security-Policy refused nothing.
- `assert_no_foreign_requests(page)`: the page asked nothing of any other host.

The pages' own Content-Security-Policy stays enforced in the tests: axe is evaluated through
the DevTools protocol, which the policy does not govern, so no `bypass_csp` is needed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, Playwright

E2E_DIR = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
AXE_SOURCE = E2E_DIR / "node_modules" / "axe-core" / "axe.min.js"
# The impacts that fail a page; "minor" and "moderate" ones are reported by axe but pass.
FAILING_IMPACTS = frozenset({"serious", "critical"})
MIN_TAP_TARGET_PX = 44

# On this closed machine Chromium's own background traffic only fails, slowly.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
]


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    is_mobile: bool = False
    has_touch: bool = False
    javascript: bool = True

    def context_options(self) -> dict[str, Any]:
        return {
            "viewport": {"width": self.width, "height": self.height},
            "is_mobile": self.is_mobile,
            "has_touch": self.has_touch,
            "java_script_enabled": self.javascript,
        }


DESKTOP = Viewport("desktop", 1280, 800)
PHONE = Viewport("phone", 360, 780, is_mobile=True, has_touch=True)
NO_JAVASCRIPT = Viewport("nojs", 1280, 800, javascript=False)
VIEWPORTS = {v.name: v for v in (DESKTOP, PHONE, NO_JAVASCRIPT)}


def _chromium() -> str:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make browser-deps` installs it")
    return str(CHROMIUM)


async def launch_chromium(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)


# Runs before any script of each page (and is not subject to its policy): records what the
# Content-Security-Policy refused.
_RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(`${e.effectiveDirective} refused ${e.blockedURI || 'inline'}` +
    (e.sourceFile ? ` (${e.sourceFile}:${e.lineNumber})` : ''));
});
"""


@asynccontextmanager
async def open_context(
    browser: Browser, viewport: Viewport, base_url: str
) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) at `viewport`, relative URLs on `base_url`."""
    context = await browser.new_context(base_url=base_url, **viewport.context_options())
    context.set_default_timeout(10_000)
    if viewport.javascript:
        await context.add_init_script(_RECORD_CSP_VIOLATIONS)
    try:
        yield context
    finally:
        await context.close()


async def new_page(context: BrowserContext, base_url: str) -> Page:
    """A page that remembers every request it made to another origin than `base_url`."""
    page = await context.new_page()
    foreign: list[str] = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((base_url, "data:", "blob:", "about:"))
            else foreign.append(request.url)
        ),
    )
    page.foreign_requests = foreign  # type: ignore[attr-defined]
    return page


# --- the checks --------------------------------------------------------------------------------


@cache
def _axe_source() -> str:
    if not AXE_SOURCE.exists():
        raise RuntimeError(f"{AXE_SOURCE} is missing: `make browser-deps` installs axe-core")
    return AXE_SOURCE.read_text()


def _describe(violation: dict[str, Any]) -> str:
    nodes = violation["nodes"]
    targets = ", ".join(" ".join(map(str, node["target"])) for node in nodes[:5])
    more = f" and {len(nodes) - 5} more" if len(nodes) > 5 else ""
    return (
        f"[{violation['impact']}] {violation['id']}: {violation['help']} "
        f"({len(nodes)} element(s): {targets}{more}) {violation['helpUrl']}"
    )


async def accessibility_violations(
    page: Page, *, within: str | None = None, disabled_rules: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Every axe-core violation on the page (or within the CSS selector `within`)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(_axe_source())
    violations: list[dict[str, Any]] = await page.evaluate(
        """async ([within, disabled]) => {
            const rules = Object.fromEntries(disabled.map((id) => [id, {enabled: false}]));
            const results = await axe.run(within || document, {resultTypes: ['violations'], rules});
            return results.violations;
        }""",
        [within, list(disabled_rules)],
    )
    return violations


async def assert_accessible(
    page: Page, *, within: str | None = None, disabled_rules: Iterable[str] = ()
) -> None:
    """Fail, listing each, if axe-core finds a serious or critical violation on the page.

    Needs JavaScript in the page (not for a `nojs_page`: check the same page in another)."""
    failing = [
        v
        for v in await accessibility_violations(page, within=within, disabled_rules=disabled_rules)
        if v["impact"] in FAILING_IMPACTS
    ]
    if failing:
        lines = "\n  ".join(_describe(v) for v in failing)
        raise AssertionError(f"{page.url}: {len(failing)} accessibility violation(s):\n  {lines}")


_PHONE_PROBLEMS = """
(minimum) => {
  const problems = [];
  const scrolling = document.scrollingElement || document.documentElement;
  if (scrolling.scrollWidth > window.innerWidth) {
    problems.push(`the page scrolls sideways: ${scrolling.scrollWidth}px wide in a ` +
      `${window.innerWidth}px viewport`);
  }
  const describe = (el) => {
    const text = (el.innerText || el.value || el.getAttribute('aria-label') ||
      el.getAttribute('name') || el.id || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
    return `<${el.tagName.toLowerCase()}${el.type ? ` type=${el.type}` : ''}> "${text}"`;
  };
  // A link in a sentence is exempt (WCAG 2.5.8 "inline"): inline, with text of its own
  // block around it.
  const inSentence = (el) => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return false;
    const block = el.parentElement;
    return block !== null && block.innerText.trim().length > el.innerText.trim().length;
  };
  const targets = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]');
  for (const el of targets) {
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    let box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    // off the page until focused (a "skip to content" link): not a target to tap
    if (box.right + window.scrollX <= 0 || box.bottom + window.scrollY <= 0) continue;
    // a check box or radio button is tapped through its label too
    if (el.labels && el.labels.length > 0) {
      for (const label of el.labels) {
        const area = label.getBoundingClientRect();
        if (area.height > box.height) box = area;
      }
    }
    if (box.height + 0.5 < minimum && !inSentence(el)) {
      problems.push(`${describe(el)} is ${Math.round(box.height)}px tall`);
    }
  }
  return problems;
}
"""


async def assert_fits_phone(page: Page, *, minimum_target_px: int = MIN_TAP_TARGET_PX) -> None:
    """Fail, naming each problem, unless the page fits its phone viewport: it has a
    `<meta name="viewport" content="width=device-width">`, nothing is wider than the screen
    (the phone would zoom out) or scrolls sideways, and every visible link, button and field
    is at least 44 px tall (links inside a sentence excepted)."""
    viewport = page.viewport_size
    assert viewport is not None
    problems: list[str] = []
    meta = await page.evaluate(
        "() => document.querySelector('meta[name=viewport]')?.getAttribute('content') || ''"
    )
    layout_width = await page.evaluate("() => window.innerWidth")
    if "width=device-width" not in meta.replace(" ", ""):
        problems.append('no <meta name="viewport" content="width=device-width, ...">')
    elif layout_width > viewport["width"]:
        # a phone zooms out to show content wider than its screen
        problems.append(
            f"the page is laid out {layout_width}px wide to fit its content on a "
            f"{viewport['width']}px screen"
        )
    problems += await page.evaluate(_PHONE_PROBLEMS, minimum_target_px)
    if problems:
        lines = "\n  ".join(problems)
        raise AssertionError(f"{page.url} does not fit a phone:\n  {lines}")


async def assert_no_csp_violations(page: Page) -> None:
    """Fail if the page's Content-Security-Policy refused a script, style or anything else."""
    refused: list[str] = await page.evaluate("() => window.__cspViolations || []")
    if refused:
        lines = "\n  ".join(refused)
        raise AssertionError(f"{page.url}: the Content-Security-Policy refused:\n  {lines}")


def assert_no_foreign_requests(page: Page) -> None:
    """Fail if the page asked another host for anything (a CDN, fonts, analytics)."""
    foreign: list[str] = getattr(page, "foreign_requests", [])
    assert not foreign, f"{page.url} asked other hosts: {foreign}"
