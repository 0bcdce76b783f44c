"""The website as a reader sees it: offline, math typeset, the static sliders alive."""

import re

import pytest

from .conftest import ROOT, chromium

PAGES = ["book/softmax.html", "book/cross-entropy.html"]
EXTERNAL = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"'](?:https?:)?//", re.I)


def test_no_page_loads_scripts_or_styles_from_the_internet(html_dir):
    pages = sorted(html_dir.rglob("*.html"))
    assert len(pages) >= 4
    offenders = {
        str(page.relative_to(html_dir)): EXTERNAL.findall(page.read_text(encoding="utf-8"))
        for page in pages
    }
    offenders = {page: found for page, found in offenders.items() if found}
    assert not offenders, f"external scripts or styles: {offenders}"


def test_vendored_assets_are_in_the_site(html_dir):
    assert (html_dir / "vendor/mathjax/tex-svg-full.js").stat().st_size > 10_000


@pytest.fixture(scope="module")
def browser():
    with chromium("1200,1600") as driver:
        yield driver


WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done(true), () => done(false));
  } else if (Date.now() - start > 50000) { done(false); } else { setTimeout(poll, 100); }
})();
"""

TEXT_OUTSIDE_CODE = """
const main = document.querySelector('main').cloneNode(true);
main.querySelectorAll('pre, code, mjx-container, script').forEach(e => e.remove());
return main.innerText;
"""


@pytest.mark.parametrize("page", PAGES)
def test_math_is_typeset(browser, html_dir, page):
    browser.get((html_dir / page).as_uri())
    assert browser.execute_async_script(WAIT_FOR_MATHJAX), "MathJax never finished loading"
    typeset = browser.execute_script("return document.querySelectorAll('mjx-container').length")
    assert typeset > 20, f"only {typeset} formulas typeset on {page}"
    prose = browser.execute_script(TEXT_OUTSIDE_CODE)
    for raw in ("$$", "\\(", "\\[", "\\frac", "\\hat"):
        assert raw not in prose, f"raw math {raw!r} left on {page}"
    screenshots = ROOT / "_build" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(screenshots / page.replace("/", "_").replace(".html", ".png")))
