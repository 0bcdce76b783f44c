"""Exercises as a reader sees them: solutions hidden on the website until opened, absent from
the student PDF, present in the full PDF."""

import json
import re
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, require_tools
from .test_website import browser  # noqa: F401  (the headless Chromium fixture)

CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
EXERCISE = re.compile(r"^````\{exercise\} (.+)$", re.M)


def exercise_titles(notebook) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return EXERCISE.findall(text)


ALL_TITLES = [title for chapter in CHAPTERS for title in exercise_titles(chapter)]


def words(text: str) -> str:
    """Text with line breaks, hyphenation at line ends and repeated spaces removed, and
    LaTeX's curly apostrophes made straight."""
    text = text.replace("\u2019", "'")
    return re.sub(r"\s+", " ", re.sub(r"-\n\s*", "", text))


def plain_prefix(title: str) -> str:
    """The start of a title up to its first math or code (typeset differently in a PDF)."""
    return re.split(r"[$`\"]", title)[0].strip()


def test_every_chapter_has_at_least_three_exercises_and_45_in_all():
    counts = {chapter.stem: len(exercise_titles(chapter)) for chapter in CHAPTERS}
    assert len(counts) >= 15, counts
    assert min(counts.values()) >= 3, counts
    assert sum(counts.values()) >= 45, counts


def test_each_exercise_has_a_collapsed_solution_on_its_page(html_dir):
    for chapter in CHAPTERS:
        page = (html_dir / "book" / f"{chapter.stem}.html").read_text(encoding="utf-8")
        exercises = re.findall(r'<div class="exercise admonition" id="([^"]+)"', page)
        solutions = re.findall(r'<div class="solution dropdown admonition"', page)
        assert len(exercises) == len(exercise_titles(chapter)) >= 3, chapter.stem
        assert len(solutions) == len(exercises), chapter.stem
        for label in exercises:
            assert f'href="#{label}"' in page, f"no solution links to {label}"


WAIT_FOR_TOGGLES = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  const buttons = document.querySelectorAll('.solution.dropdown .toggle-button');
  if (buttons.length > 0) { done(buttons.length); }
  else if (Date.now() - start > 20000) { done(0); } else { setTimeout(poll, 100); }
})();
"""


def test_a_solution_is_hidden_until_its_toggle_is_clicked(browser, html_dir):  # noqa: F811
    from selenium.webdriver.common.by import By

    browser.get((html_dir / "book" / "softmax.html").as_uri())
    assert browser.execute_async_script(WAIT_FOR_TOGGLES) >= 3, "no solution toggles"
    solutions = browser.find_elements(By.CSS_SELECTOR, ".solution.dropdown")
    exercises = browser.find_elements(By.CSS_SELECTOR, ".exercise.admonition")
    assert exercises and all(e.is_displayed() for e in exercises)
    contents = [s.find_element(By.CSS_SELECTOR, "#solution-content") for s in solutions]
    assert not any(c.is_displayed() for c in contents), "a solution is visible before a click"

    target = next(s for s in solutions if "softmax_solution" in s.get_attribute("textContent"))
    content = target.find_element(By.CSS_SELECTOR, "#solution-content")
    title = target.find_element(By.CSS_SELECTOR, ".admonition-title")
    assert title.is_displayed() and "Solution to" in title.text
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", title)
    target.find_element(By.CSS_SELECTOR, ".toggle-button").click()
    deadline = time.time() + 10
    while not content.is_displayed() and time.time() < deadline:
        time.sleep(0.1)
    assert content.is_displayed(), "the solution stayed hidden after its toggle was clicked"
    assert "def softmax_solution" in content.text and "PASS softmax" in content.text
    others = [c for s, c in zip(solutions, contents, strict=True) if s != target]
    assert not any(c.is_displayed() for c in others), "opening one solution opened others"


@pytest.fixture(scope="session")
def student_pdf_text(tmp_path_factory) -> str:
    """The text of the student PDF, built by the command `make pdf-student` runs."""
    require_tools("latexmk", "pdflatex", "pdftotext")
    output = tmp_path_factory.mktemp("student")
    build = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_student_pdf.py"), str(output)],
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        cwd=ROOT,
        check=False,
    )
    if build.returncode != 0:
        pytest.fail(f"the student PDF build failed:\n{(build.stdout + build.stderr)[-4000:]}")
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


SOLUTION_MARKERS = re.compile(r"Solution to|_solution\(|PASS \w+:")


def test_the_student_pdf_has_every_exercise_and_no_solution(student_pdf_text):
    text = words(student_pdf_text)
    for number in range(1, len(ALL_TITLES) + 1):
        assert f"Exercise {number} " in text, f"Exercise {number} is missing"
    for title in ALL_TITLES:
        assert plain_prefix(title) in text, title
    assert "NOT ATTEMPTED" in text  # the skeleton cells stay, with their verdicts
    leaked = SOLUTION_MARKERS.findall(text)
    assert not leaked, f"solution text in the student PDF: {leaked[:5]}"


def test_the_full_pdf_has_every_exercise_and_every_solution(pdf_text):
    text = words(pdf_text)
    for title in ALL_TITLES:
        assert plain_prefix(title) in text, title
    assert text.count("Solution to") >= len(ALL_TITLES)
    assert "def softmax_solution" in text and "PASS softmax" in text
