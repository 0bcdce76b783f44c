"""Fixtures for the tests of what a reader sees: the built website and the PDF.

These tests need outside tools (Chromium and its driver, LaTeX, pdftotext). On a developer's
machine without them they are skipped with the install line; in CI (``CI`` set) a missing
tool is a failure, so the checks can never silently stop running there.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEX_PACKAGES = (
    "latexmk texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended "
    "tex-gyre texlive-plain-generic poppler-utils"
)
BROWSER_PACKAGES = "chromium chromium-driver"


def require_tools(*tools: str, install: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    message = f"needs {', '.join(missing)}: sudo apt-get install {install}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def jupyter_book(*args: str, output: Path) -> None:
    executable = Path(sys.executable).parent / "jupyter-book"
    command = [str(executable), "build", str(ROOT), "--path-output"]
    # LaTeX echoes raw bytes of the log (not always UTF-8): decode leniently.
    result = subprocess.run(
        [*command, str(output), *args],
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        cwd=ROOT,
        check=False,
    )
    if result.returncode != 0:
        tail = (result.stdout + result.stderr)[-4000:]
        pytest.fail(f"jupyter-book build {' '.join(args)} failed:\n{tail}")


@pytest.fixture(scope="session")
def html_dir(tmp_path_factory) -> Path:
    """A fresh build of the website, with warnings as errors, as `make book` does."""
    output = tmp_path_factory.mktemp("site")
    jupyter_book("--warningiserror", "--keep-going", output=output)
    return output / "_build" / "html"


@pytest.fixture(scope="session")
def pdf_text(tmp_path_factory) -> str:
    """The text of a fresh PDF build, as `make pdf` does it."""
    require_tools("latexmk", "pdflatex", "pdftotext", install=TEX_PACKAGES)
    output = tmp_path_factory.mktemp("pdf")
    jupyter_book("--builder", "pdflatex", output=output)
    pdfs = list((output / "_build" / "latex").glob("*.pdf"))
    assert len(pdfs) == 1, f"expected one PDF, found {pdfs}"
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdfs[0]), "-"],
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        check=True,
    )
    return text.stdout


def chapter_titles() -> list[str]:
    """The first heading of every page in _toc.yml, in order."""
    import json

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
