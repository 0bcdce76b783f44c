"""Fixtures for the tests of what a reader sees: the built website and the PDF.

The tests read the standard outputs, ``_build/html`` and ``_build/latex/mlderive.pdf``. When an
output is missing or older than the book's sources, a fixture builds it once with exactly the
command a reader would type (``make book``, ``make pdf``), so CI builds each medium once.

These tests need outside tools (Chromium and its driver, LaTeX, pdftotext). On a developer's
machine without them they are skipped with the install line; in CI (``CI`` set) a missing
tool is a failure, so the checks can never silently stop running there.
"""

import json
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "_build"
HTML = BUILD / "html"
PDF = BUILD / "latex" / "mlderive.pdf"
# Everything a build reads: the pages, the configuration, the bibliography, the LaTeX layer.
SOURCES = ("book", "assets", "_ext", "_config.yml", "_toc.yml", "references.bib")


@cache
def apt_packages() -> str:
    """The Debian packages the Makefile lists (its one home), for install hints."""
    result = subprocess.run(
        ["make", "-s", "apt-packages"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    words = result.stdout.split()
    return " ".join(word for word in words if word != "make") or "(see the Makefile)"


def require_tools(*tools: str, install: str | None = None) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"needs {', '.join(missing)}: sudo apt-get install {install or apt_packages()}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def chromium(window_size: str, extra_flags: tuple[str, ...] = (), capabilities=None):
    """A headless Chromium driven by selenium, offline and with a throwaway profile.

    The flags keep Chromium from reaching out to the network (this machine has none) and from
    showing first-run dialogs. ``capabilities`` are set on the options (e.g. performance logs).
    """
    require_tools("chromium", "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        f"--window-size={window_size}",
        f"--user-data-dir={profile}",
        *extra_flags,
    ):
        options.add_argument(flag)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def newest_source() -> float:
    """The latest modification time of any file the build reads."""
    times = []
    for name in SOURCES:
        path = ROOT / name
        if path.is_file():
            times.append(path.stat().st_mtime)
        elif path.is_dir():
            times.extend(
                p.stat().st_mtime
                for p in path.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts
            )
    return max(times)


def is_fresh(*markers: Path) -> bool:
    """True if the newest of the markers (files every build rewrites) postdates the sources."""
    times = [marker.stat().st_mtime for marker in markers if marker.exists()]
    return bool(times) and max(times) >= newest_source()


def make(target: str) -> None:
    """Run `make TARGET` from the repository's root, as a reader would."""
    result = subprocess.run(
        ["make", target],
        capture_output=True,
        encoding="utf-8",
        errors="replace",  # LaTeX echoes raw bytes of its log, not always UTF-8
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        pytest.fail(f"make {target} failed:\n{tail}")


@pytest.fixture(scope="session")
def html_dir() -> Path:
    """The website as `make book` builds it (warnings are errors), built only if stale."""
    index = HTML / "index.html"
    # Sphinx rewrites .buildinfo on every build; index.html is only a redirect, written once.
    if not (index.exists() and is_fresh(HTML / ".buildinfo")):
        make("book")
    assert index.exists(), "make book did not write _build/html/index.html"
    return HTML


@pytest.fixture(scope="session")
def pdf_path() -> Path:
    """The PDF as `make pdf` builds it, built only if stale."""
    require_tools("latexmk", "pdflatex", "pdftotext", "pdftoppm")
    # Every build rewrites the .tex; latexmk leaves the PDF alone when the .tex is unchanged.
    if not (PDF.exists() and is_fresh(PDF, PDF.with_suffix(".tex"))):
        make("pdf")
    assert PDF.exists(), f"make pdf did not write {PDF.relative_to(ROOT)}"
    return PDF


@pytest.fixture(scope="session")
def latex_log(pdf_path) -> str:
    """LaTeX's log of the last pass over the book."""
    return pdf_path.with_suffix(".log").read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def pdf_pages(pdf_path) -> list[str]:
    """The text of each page of the PDF, in its printed layout."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf_path), "-"],
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        check=True,
    ).stdout
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


@pytest.fixture(scope="session")
def pdf_text(pdf_pages) -> str:
    """The text of the whole PDF."""
    return "\f".join(pdf_pages)


def chapter_titles() -> list[str]:
    """The first heading of every page in _toc.yml, in order."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [
        chapter["file"] for part in toc.get("parts", []) for chapter in part["chapters"]
    ]
    titles = []
    for name in files:
        path = next(p for p in (ROOT / f"{name}.md", ROOT / f"{name}.ipynb") if p.exists())
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            lines = [line for c in cells if c["cell_type"] == "markdown" for line in c["source"]]
        else:
            lines = path.read_text().splitlines()
        titles.append(next(line[2:].strip() for line in lines if line.startswith("# ")))
    return titles


def part_captions() -> list[str]:
    """The captions of the parts in _toc.yml."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [part["caption"] for part in toc.get("parts", []) if part.get("caption")]
