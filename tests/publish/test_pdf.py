"""The PDF a reader would print: complete, typeset, structured like the website, cited, licensed."""

import ast
import html
import json
import re
import subprocess

import pytest

from .conftest import ROOT, chapter_titles, part_captions

SCREENSHOTS = ROOT / "_build" / "screenshots"
ROW_IDS = [f"D{i}" for i in range(1, 10)] + [f"E{i}" for i in range(1, 9)]
# The published work the chapters rest on: each must be cited and listed, in print and online.
REQUIRED_REFERENCES = {
    "bishop2006pattern": "Bishop",
    "murphy2012machine": "Murphy",
    "crammer2001algorithmic": "Crammer",
    "kingma2015adam": "Kingma",
    "ioffe2015batch": "Ioffe",
    "srivastava2014dropout": "Srivastava",
    "zhang2017understanding": "Zhang",
    "lecun1998mnist": "LeCun",
    "xiao2017fashion": "Xiao",
    "bergstra2012random": "Bergstra",
}
# Boxes LaTeX could not fit. A vbox past the bottom of the text by more than half the bottom
# margin (2.4 cm, 68 pt) puts text where it may be cut off (the reproduction table once ran
# 889 pt past it and lost ten rows); an unbreakable box at the end of a solution can reach a
# line into the margin, which loses nothing. A line of prose or math wider than the text by
# more than 20 pt runs into the margin. Code is checked separately (wrapped lines below).
VBOX_TOLERANCE_PT = 34.0
HBOX_TOLERANCE_PT = 20.0
# Code is formatted to fit the page; the lines LaTeX still wraps (at a space, never inside a
# name) are printed outputs: a check's verdict with its hint, an error message, an array, a
# comparison with its interval and seeds. A budget, not a goal: 33 such lines in 255 pages.
MAX_WRAPPED_CODE_LINES = 34
CONTINUATION = "\u02d3\u2192"  # the hook pdftotext gives for LaTeX's "line continues" mark


def squash(text: str) -> str:
    """Fold white space and typographic quotes (LaTeX turns ' into a right quote)."""
    return re.sub(r"\s+", " ", text).replace("\u2019", "'")


def page_with(pages: list[str], needle: str) -> int:
    """The 1-based number of the first page whose text contains `needle`."""
    return next(i for i, page in enumerate(pages, 1) if needle in squash(page))


def save_page(pdf_path, number: int, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-r", "60", "-f", str(number), "-l", str(number), "-png", "-singlefile"]
        + [str(pdf_path), str(SCREENSHOTS / name)],
        check=True,
    )


def test_every_chapter_title_is_in_the_pdf(pdf_text):
    text = squash(pdf_text).lower()
    missing = [title for title in chapter_titles() if not found(text, title.lower())]
    assert not missing, f"chapters missing from the PDF: {missing}"


def test_every_part_has_its_own_page(pdf_pages):
    """A part of the website's sidebar is a part of the book: a page with only its title."""
    alone = {squash(re.sub(r"^\s*\d+\s*$", "", page, flags=re.M)).strip() for page in pdf_pages}
    # the references page moves to the end of the book, so its part has no chapter in print
    captions = [c for c in part_captions() if c != "Back matter"]
    assert len(captions) >= 3
    missing = [caption for caption in captions if caption not in alone]
    assert not missing, f"parts without a part page: {missing}"


def found(text: str, *needles: str) -> list[str]:
    """The needles that occur in text (asserting on this keeps pytest from diffing a book)."""
    return [needle for needle in needles if needle in text]


def test_contents_are_called_contents(pdf_pages):
    contents = next(i for i, page in enumerate(pdf_pages) if ". . . . ." in page)
    heading = next(line.strip() for line in pdf_pages[contents].splitlines() if line.strip())
    assert heading == "Contents", f"the table of contents is headed {heading!r}"


def test_no_unresolved_references(pdf_text):
    assert not found(pdf_text, "??")


def test_no_raw_math_or_widget_reprs_leak(pdf_text):
    raw = found(pdf_text, "$$", r"\frac", r"\mathbb", r"\operatorname", r"\hat{y}_i =", "prf:")
    assert not raw, f"raw markup in the PDF: {raw}"
    reprs = found(pdf_text, "VBox(children", "interactive(children", "IntSlider(", "FloatSlider(")
    assert not reprs, f"a widget's repr leaked into the PDF: {reprs}"


def test_no_wrong_symbols_and_no_bookkeeping(pdf_text):
    assert not found(pdf_text, "\u22ae"), "an indicator printed as the 'does not force' sign"
    assert not found(pdf_text, "glue("), "bookkeeping code (glue) printed"
    assert not found(pdf_text, "<live slider"), "a widget placeholder printed"


def test_no_web_only_text_in_print(pdf_text):
    text = squash(pdf_text).lower()
    printed = [web_only for web_only in ("slider", "this website") if web_only in text]
    assert not printed, f"printed, but meaningless on paper: {printed}"


def test_latex_fits_every_box(latex_log, pdf_path):
    assert "Missing character" not in latex_log, "a character the fonts do not have"
    vboxes = [float(pt) for pt in re.findall(r"Overfull \\vbox \(([\d.]+)pt too high", latex_log)]
    assert max(vboxes, default=0) <= VBOX_TOLERANCE_PT, f"overfull vboxes (pt): {vboxes}"
    tex = pdf_path.with_suffix(".tex").read_text(encoding="utf-8").splitlines()
    in_code, depth = set(), 0
    for number, line in enumerate(tex, 1):
        depth += line.count(r"\begin{sphinxVerbatim}")
        if depth:
            in_code.add(number)
        depth -= line.count(r"\end{sphinxVerbatim}")
    wide = []
    pattern = (
        r"Overfull \\hbox \(([\d.]+)pt too wide\) "
        r"(?:in paragraph at lines (\d+)--(\d+)|detected at line (\d+))"
    )
    for pt, first, last, single in re.findall(pattern, latex_log):
        first, last = int(first or single), int(last or single)
        if float(pt) > HBOX_TOLERANCE_PT and not all(n in in_code for n in range(first, last + 1)):
            wide.append((float(pt), first, tex[first - 1][:80]))
    assert not wide, f"lines wider than the page (pt, .tex line, text): {wide}"


def test_code_keeps_short_lines(pdf_pages):
    """Code is formatted to fit; a line LaTeX has to wrap never breaks inside a name."""
    wrapped, mid_name = 0, []
    for page in pdf_pages:
        lines = page.splitlines()
        for before, line in zip(lines, lines[1:], strict=False):
            if line.strip().startswith(CONTINUATION):
                wrapped += 1
                after = line.strip()[len(CONTINUATION) :]
                if re.search(r"[A-Za-z_]$", before) and re.match(r"[A-Za-z0-9_]", after):
                    mid_name.append(f"{before.strip()[-30:]} | {after[:30]}")
    assert not mid_name, f"code wrapped inside a name: {mid_name}"
    assert wrapped <= MAX_WRAPPED_CODE_LINES, f"{wrapped} code lines wrap"


def glued_numbers() -> dict[str, list[str]]:
    """Each reproduction-table row's numbers, formatted as the table formats them."""
    values: dict[str, object] = {}
    for notebook in (ROOT / "book").glob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            for output in cell.get("outputs", []):
                key = output.get("metadata", {}).get("scrapbook", {}).get("name")
                record = output.get("data", {}).get("application/papermill.record/text/plain")
                if key and record is not None:
                    values[f"{notebook.name}::{key}"] = ast.literal_eval(record)
    rows = {}
    table = (ROOT / "book" / "intro.md").read_text()
    for row_id in ROW_IDS:
        row = next(line for line in table.splitlines() if line.startswith(f"| {row_id} |"))
        numbers = []
        for key, spec in re.findall(r"\{glue:text\}`([^`:]+::[^`:]+):([^`]*)`", row):
            numbers.append(format(values[key], spec))
        rows[row_id] = numbers
    return rows


def test_reproduction_table_is_complete(pdf_pages, pdf_path):
    start = page_with(pdf_pages, "Reproduction table One row per item")
    table = squash(" ".join(pdf_pages[start - 1 : start + 8]))
    rows = glued_numbers()
    assert sum(len(numbers) for numbers in rows.values()) >= 60
    missing = {
        row_id: [n for n in numbers if n not in table] or None
        for row_id, numbers in rows.items()
        if re.search(rf"\b{row_id}\b", table) is None or any(n not in table for n in numbers)
    }
    assert not missing, f"rows or numbers missing from the printed table: {missing}"
    save_page(pdf_path, start + 1, "pdf-reproduction-table")


def test_bibliography_in_print_and_online(pdf_pages, html_dir):
    cited = " ".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "book").glob("*.*") if path.is_file()
    )
    uncited = [key for key in REQUIRED_REFERENCES if f"`{key}`" not in cited]
    assert not uncited, f"never cited: {uncited}"
    start = max(
        i for i, page in enumerate(pdf_pages) if re.search(r"^\s*References\s*$", page, re.M)
    )
    bibliography = squash(" ".join(pdf_pages[start:]))
    online = squash(re.sub(r"<[^>]+>", " ", (html_dir / "book" / "references.html").read_text()))
    names = REQUIRED_REFERENCES.values()
    assert not [n for n in names if n not in bibliography], "missing from the printed bibliography"
    assert not [n for n in names if n not in online], "missing from the website's references page"


def test_every_figure_has_a_numbered_caption(pdf_path, pdf_text, pdf_pages):
    listing = subprocess.run(
        ["pdfimages", "-list", str(pdf_path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    images = [row for row in listing if row.split()[2] == "image"]
    captions = [int(n) for n in re.findall(r"^\s*Fig\. (\d+):", pdf_text, re.M)]
    assert len(images) >= 25
    assert captions == list(range(1, len(images) + 1)), (len(images), captions)
    save_page(pdf_path, page_with(pdf_pages, "Fig. 1:"), "pdf-figure")


def test_numbering_matches_the_website(pdf_text, pdf_pages, pdf_path, html_dir):
    """No chapter numbers on either; equations numbered through the whole book on both."""
    assert not re.search(r"^\s*Chapter \d", pdf_text, re.M), "a numbered chapter in print"
    tex = pdf_path.with_suffix(".tex").read_text(encoding="utf-8")
    assert "nonumfigreset" in tex, "equations and figures restart in every chapter, as (9.1)"
    numbers = [
        int(n)
        for page in html_dir.joinpath("book").glob("*.html")
        for n in re.findall(r'<span class="eqno">\((\d+)\)', page.read_text(encoding="utf-8"))
    ]
    assert numbers, "no numbered equation on the website"
    last = max(numbers)
    assert re.search(rf"\({last}\)\s*$", pdf_text, re.M), f"equation ({last}) not in the PDF"
    assert not re.search(rf"\({last + 1}\)\s*$", pdf_text, re.M), f"more equations than ({last})"
    theorem = next(
        i for i, page in enumerate(pdf_pages, 1) if "Theorem" in page and "Proof." in page
    )
    save_page(pdf_path, theorem, "pdf-theorem")


def test_title_page_licence_and_no_blank_pages(pdf_pages, pdf_path):
    title = squash(pdf_pages[0])
    needed = ("Seeing why ML works", "Derivations you can run", "The mlderive authors", "CC BY 4.0")
    assert len(found(title, *needed, "MIT")) == len(needed) + 1, title
    months = "January|February|March|April|May|June|July|August|September|October|November|December"
    assert not re.search(months, title), "a build date on the title page"
    blank = [i for i, page in enumerate(pdf_pages, 1) if not page.strip()]
    assert not blank, f"blank pages: {blank}"
    save_page(pdf_path, 1, "pdf-title")
    licence = (ROOT / "LICENSE").read_text()
    for needed in ("MIT License", "CC BY 4.0", "MNIST", "Fashion-MNIST", "Zalando"):
        assert needed in licence


def test_proof_index_lists_titles(pdf_pages):
    # the contents list it too: the index itself is in the second half of the book
    start = min(
        i for i, p in enumerate(pdf_pages) if "Proof Index" in p and i > len(pdf_pages) // 2
    )
    index = squash(" ".join(pdf_pages[start:]))
    assert found(index, "Derivative of the log-softmax")
    labels = re.findall(r"\b[a-z]+(?:-[a-z0-9]+)*-(?:thm|lemma|def|cor)-[a-z0-9-]+", index)
    assert not labels, f"internal labels in the proof index: {labels[:5]}"


def test_index_lists_the_main_terms(pdf_pages, html_dir):
    """An index that helps, in print and online: the main terms, each with its page."""
    start = max(i for i, page in enumerate(pdf_pages) if re.search(r"^\s*Index\s*$", page, re.M))
    printed = squash(" ".join(pdf_pages[start:]))
    online = squash(
        html.unescape(re.sub(r"<[^>]+>", " ", (html_dir / "genindex.html").read_text()))
    )
    terms = ("Adam", "softmax", "MNIST", "Newton's method", "dropout", "strong duality")
    assert found(printed, *terms) == list(terms), "terms missing from the printed index"
    assert found(online, *terms) == list(terms), "terms missing from the website's index"


@pytest.mark.parametrize("page", ["book/how-to-use.html"])
def test_the_website_links_to_the_pdf(html_dir, page):
    page_html = (html_dir / page).read_text(encoding="utf-8")
    assert found(page_html, 'href="../mlderive.pdf"'), "no link to the PDF on the how-to page"
    assert found(page_html, "Print it")
