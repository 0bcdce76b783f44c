"""The figures and formulas as a reader sees them, on a desktop (1400 px) and a phone (400 px).

Every figure made with ``mlderive.interactive.explore`` is a player on the website: moving its
control must change the picture, with no request leaving the page's own files. Formulas and
tables must fit their column (or scroll inside their own box), figures' text must be at least
as large as the body text on a desktop, and the PDF must show no trace of the controls.
Screenshots of every chapter at both widths land in ``_build/screenshots/``.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, chromium

WIDTHS = (1400, 400)
SCREENSHOTS = ROOT / "_build" / "screenshots"


def chapter_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    return [f"{name}.html" for name in files]


def pages_with_figures() -> dict[str, int]:
    """Page -> number of ``explore(...)`` outputs its notebook displays."""
    found = {}
    for notebook in sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        count = sum(
            1
            for cell in cells
            if cell["cell_type"] == "code"
            and re.search(r"^explore\(", "".join(cell["source"]), re.M)
        )
        if count:
            found[f"book/{notebook.stem}.html"] = count
    return found


FIGURE_PAGES = pages_with_figures()


@pytest.fixture(scope="module")
def browser():
    performance_log = {"goog:loggingPrefs": {"performance": "ALL"}}
    with chromium("1400,1000", ("--hide-scrollbars",), performance_log) as driver:
        yield driver


WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  if (!document.querySelector('script[src*="mathjax"]')) { done(true); return; }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(() => done(true), () => done(false));
  } else if (Date.now() - start > 50000) { done(false); } else { setTimeout(poll, 100); }
})();
"""


def open_page(browser, html_dir: Path, page: str, width: int) -> list[str]:
    """Load a page at a window width; return every URL it requested that is not file:// or
    data: (Chromium's network log)."""
    browser.set_window_size(width, 1000)
    browser.get_log("performance")  # drop the previous page's entries
    browser.get((html_dir / page).as_uri())
    assert browser.execute_async_script(WAIT_FOR_MATHJAX), f"MathJax never finished on {page}"
    outside = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not url.startswith(("file://", "data:")):
                outside.append(url)
    return outside


def screenshot(browser, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


FIGURES = """
return Array.from(document.querySelectorAll('.mlx-explore')).map((figure) => {
  const image = figure.querySelector('img.mlx-frame');
  const range = figure.querySelector('input.mlx-range');
  return {src: image.src, value: +range.value, max: +range.max,
          shown: figure.querySelector('output.mlx-value').textContent,
          loaded: image.complete && image.naturalWidth > 0,
          imageWidth: image.getBoundingClientRect().width, naturalWidth: image.naturalWidth,
          smallestTextPx: +figure.dataset.smallestTextPx,
          rangeWidth: range.getBoundingClientRect().width};
});
"""
MOVE = """
const range = document.querySelectorAll('.mlx-explore input.mlx-range')[arguments[0]];
range.value = arguments[1];
range.dispatchEvent(new Event('input', {bubbles: true}));
"""
CLICK = (
    "document.querySelectorAll('.mlx-explore')[arguments[0]].querySelector(arguments[1]).click()"
)
BODY_TEXT_PX = "return parseFloat(getComputedStyle(document.querySelector('main p')).fontSize)"


@pytest.mark.parametrize("page", sorted(FIGURE_PAGES))
def test_every_figure_moves_offline_and_is_readable(browser, html_dir, page):
    outside = open_page(browser, html_dir, page, 1400)
    figures = browser.execute_script(FIGURES)
    assert len(figures) == FIGURE_PAGES[page], f"{page}: players shown {len(figures)}"
    body = browser.execute_script(BODY_TEXT_PX)
    for i, before in enumerate(figures):
        assert before["loaded"] and before["max"] >= 1
        text_px = before["smallestTextPx"] * before["imageWidth"] / before["naturalWidth"]
        assert text_px >= body - 0.5, f"figure {i}: text {text_px:.1f} px < body {body} px"
        target = 0 if before["value"] != 0 else before["max"]
        browser.execute_script(MOVE, i, target)
        after = browser.execute_script(FIGURES)[i]
        assert after["value"] == target and after["loaded"]
        assert after["src"] != before["src"] and after["shown"] != before["shown"]
        browser.execute_script(CLICK, i, "button.mlx-next" if target == 0 else "button.mlx-prev")
        stepped = browser.execute_script(FIGURES)[i]
        assert stepped["src"] not in (after["src"], "") and stepped["loaded"]
    outside += open_page(browser, html_dir, page, 400)  # the images just shown, and a phone
    for i, figure in enumerate(browser.execute_script(FIGURES)):
        assert figure["rangeWidth"] >= 200, f"figure {i}: slider {figure['rangeWidth']} px"
        assert figure["imageWidth"] <= 400
    assert not outside, f"{page} requested {outside}"


@pytest.mark.parametrize("page", sorted(FIGURE_PAGES))
def test_figures_stay_light_in_dark_mode(browser, html_dir, page):
    open_page(browser, html_dir, page, 1400)
    styles = browser.execute_script(
        """
        document.documentElement.dataset.theme = 'dark';
        return Array.from(document.querySelectorAll('.bd-content img')).map((image) => {
          const style = getComputedStyle(image);
          return [style.filter, style.backgroundColor];
        });
        """
    )
    assert styles
    for filter_, background in styles:
        assert filter_ == "none" and background == "rgb(255, 255, 255)", (filter_, background)


OVERFLOWS = """
const problems = [];
const scrolls = (e) => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
const articleBox = document.querySelector('article');
const article = articleBox.getBoundingClientRect();
const inScrollingBox = (e) => {
  for (let a = e.parentElement; a && a !== articleBox; a = a.parentElement) {
    if (scrolls(a) && a.scrollWidth > a.clientWidth) return true;
  }
  return false;
};
document.querySelectorAll('main mjx-container').forEach((math) => {
  const box = math.getBoundingClientRect();
  const parent = math.parentElement.getBoundingClientRect();
  const svg = math.querySelector('svg');
  const content = svg ? svg.getBoundingClientRect().width : box.width;
  const text = math.textContent.slice(0, 40);
  if (box.width > parent.width + 1) problems.push(['wider than its parent', text]);
  if ((box.right > article.right + 1 || box.left < article.left - 1) && !inScrollingBox(math))
    problems.push(['outside the text column', text]);
  if (content > box.width + 1 && !scrolls(math)) problems.push(['clipped', text]);
});
document.querySelectorAll('main table').forEach((table) => {
  const box = table.getBoundingClientRect();
  if (box.right > article.right + 1) problems.push(['table outside the column', '']);
  if (table.scrollWidth > table.clientWidth + 1 && !scrolls(table))
    problems.push(['table clipped', '']);
});
if (document.documentElement.scrollWidth > window.innerWidth + 1)
  problems.push(['page scrolls sideways', document.documentElement.scrollWidth]);
return problems;
"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", chapter_pages())
def test_math_and_tables_fit_the_column(browser, html_dir, page, width):
    open_page(browser, html_dir, page, width)
    problems = browser.execute_script(OVERFLOWS)
    name = f"{Path(page).stem}-{width}"
    screenshot(browser, name)
    if browser.execute_script("return document.querySelectorAll('.mlx-explore').length"):
        browser.execute_script(
            "document.querySelector('.mlx-explore').scrollIntoView({block: 'center'})"
        )
        screenshot(browser, f"{name}-figure")
    assert not problems, f"{page} at {width} px: {problems}"


def page_weight(html_dir: Path, page: str) -> int:
    """Bytes of the page's HTML plus the image files it shows (inline images are in the HTML)."""
    path = html_dir / page
    text = path.read_text(encoding="utf-8")
    images = {
        (path.parent / src).resolve()
        for src in re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", text)
        if not src.startswith("data:")
    }
    return path.stat().st_size + sum(image.stat().st_size for image in images)


def test_every_page_stays_light(html_dir):
    weights = {page: page_weight(html_dir, page) for page in chapter_pages()}
    print({page: f"{weight / 1e6:.2f} MB" for page, weight in weights.items()})
    heavy = {page: weight for page, weight in weights.items() if weight > 5_000_000}
    assert not heavy, f"pages above 5 MB (HTML plus images): {heavy}"


def test_the_pdf_shows_no_controls(pdf_text):
    text = " ".join(pdf_text.split()).lower()
    for phrase in ("<live slider", "run this notebook to move it", "this website", "slider"):
        assert phrase not in text, f"the PDF still says {phrase!r}"
    assert "widget" not in text
