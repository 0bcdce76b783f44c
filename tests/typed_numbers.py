"""Find numbers typed by hand in the book's prose (used by tests/test_typed_numbers.py).

The book promises that every measured number in its text is computed by a cell and pasted in
with ``glue``. A regular expression cannot tell a measurement from a setting, so the rule is
about the shape of a number, with a short list of allowed exceptions:

* looked at: the prose of Markdown cells and ``.md`` pages, outside math (``$...$``,
  ``$$...$$``, ``{math}`` and ``math`` blocks), inline code, roles (``{glue:text}``,
  ``{cite}``, ``{ref}``, ...), links' targets, directive options and labels, and citation keys;
* inside math, only approximations are looked at: a number after ``\\approx`` and one written
  in scientific notation (``3.9 \\times 10^5`` is checked as ``3.9e5``);
* a number is *measured-looking* if it has a decimal point (``0.87``, ``84.26%``) or more than
  two significant digits (``407,050``, ``6415``; trailing zeros of a whole number do not count,
  so ``60,000`` and ``1000`` are round);
* allowed: the constants in :data:`CONSTANTS` (sizes of the data sets, the images, defaults of
  Adam, ...), every number quoted from the students' reports (:data:`QUOTED`, with the report
  it comes from), and per page the settings in :data:`SETTINGS` (a learning rate of a grid, a
  dropout rate): each with its reason.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

BOOK = Path(__file__).resolve().parents[1] / "book"

NUMBER = re.compile(r"(?<![\w.\-/])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w])")

# Constants of the field and of the data sets, the same on every page.
CONSTANTS = {
    "784": "28 x 28 pixels per image",
    "785": "784 pixels and a bias",
    "255": "the largest pixel value",
    "128": "a batch size of the reports and of the book",
    "256": "a layer width",
    "0.999": "Adam's default beta_2",
    "0.9": "Adam's default beta_1, a momentum",
    "0.95": "a 95% interval",
    "0.975": "the upper quantile of a 95% interval",
    "1.96": "the normal quantile of a 95% interval",
    "0.5": "one half",
    "0.1": "one tenth",
    "0.01": "one hundredth",
    "0.001": "one thousandth",
    "0.25": "one quarter",
    "2.30": "ln 10, the loss of a uniform guess over ten classes",
    "2.303": "ln 10",
    "2.3026": "ln 10",
    "0.69": "ln 2, the loss of a uniform guess over two classes",
    "0": "zero",
}

# Numbers quoted from the five reports (their text, not a measurement of ours).
QUOTED = {
    "84.26": "001: test accuracy of the Fashion-MNIST grid",
    "0.456": "001: test cross-entropy of the grid",
    "0.4558": "001: test cross-entropy of the grid, as printed",
    "93.97": "004: test accuracy of the learning-rate sweep",
    "1.93": "000/002: mean test loss on random labels",
    "0.22": "000: the report's learning rate",
    "49.91": "004: SGD's test accuracy",
    "62.49": "004: Adam's test accuracy",
    "13.63": "004: Adam at a large rate",
    "61.86": "004: without BatchNorm and Dropout",
    "2.2486": "004: a table's repeated loss",
    "0.005": "004: a learning rate",
    "5e-5": "004: Adam's learning rate",
}

# Settings typed in a page's prose, page by page: a grid's values, a chosen setting.
SETTINGS: dict[str, dict[str, str]] = {
    "how-to-use.md": {"3.11": "the oldest Python the package runs on"},
    "intro.md": {"4.0": "the licence's version", "0.4": "the loss the D2 row's runs train to"},
    "memorisation.ipynb": {"512": "the hidden layer's width"},
    "multiclass-hinge.ipynb": {"301": "the number of random weight matrices drawn"},
    "two-layer-network.ipynb": {
        "97.5": "the target accuracy the chapter asserts",
        "0.022": "a learning rate ten times below the report's 0.22",
        "0.3": "the upper end of the report's learning-rate range",
        "3e-3": "Adam's rate three times its usual 1e-3, a setting of the ReLU-sigmoid runs",
    },
    "cnn.ipynb": {"3e-3": "a learning rate of the grid"},
}


def _strip_markup(text: str) -> str:
    """The prose of a MyST page with math, code, roles, targets and options blanked out."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)  # fenced blocks (math, code, directives)
    text = re.sub(r":::.*?\n", " ", text)  # colon-fence directive lines
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\\begin\{.*?\\end\{[^}]*\}", " ", text, flags=re.S)
    text = re.sub(r"(?<!\\)\$[^$\n]+?(?<!\\)\$", " ", text)
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)  # roles: {glue:text}`...`, {cite}`...`
    text = re.sub(r"`[^`]*`", " ", text)  # inline code
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = re.sub(r"^\s*:[\w-]+:.*$", " ", text, flags=re.M)  # directive options
    text = re.sub(r"^\s*\([\w-]+\)=\s*$", " ", text, flags=re.M)  # labels
    text = re.sub(r"\b\d{3}_[0-9a-f]{16}\.txt\b", " ", text)  # the reports' file names
    text = re.sub(r"<[^>]+>", " ", text)  # HTML tags
    return text


MATH = re.compile(r"\$\$.*?\$\$|(?<!\\)\$[^$\n]+?(?<!\\)\$|```\{math\}.*?```", re.S)
SCIENTIFIC = re.compile(r"(\d+(?:\.\d+)?)\s*\\times\s*10\^\{?(-?\d+)\}?")
APPROXIMATELY = re.compile(r"\\approx\s*(\d[\d,]*(?:\.\d+)?)(?!\s*\\times\s*10)")


def math_numbers(text: str) -> list[tuple[str, str]]:
    """``(number, context)`` for the approximations inside the math of ``text``."""
    found = []
    for block in MATH.findall(text):
        for match in SCIENTIFIC.finditer(block):
            found.append((f"{match.group(1)}e{match.group(2)}", match.group(0)))
        for match in APPROXIMATELY.finditer(block):
            found.append((match.group(1), match.group(0)))
    return found


def significant_digits(whole: str, fraction: str | None) -> int:
    digits = whole.replace(",", "").lstrip("0")
    if fraction:
        decimals = fraction[1:]
        return len((digits + decimals).lstrip("0")) if digits else len(decimals.lstrip("0"))
    return len(digits.rstrip("0"))


def measured_looking(whole: str, fraction: str | None) -> bool:
    return bool(fraction) or significant_digits(whole, fraction) > 2


def pages() -> list[Path]:
    return sorted(BOOK.glob("*.ipynb")) + sorted(BOOK.glob("*.md"))


def prose_cells(path: Path) -> list[tuple[str, str]]:
    """``(where, text)`` for every Markdown cell of a notebook, or the whole of an .md page."""
    if path.suffix == ".md":
        return [(path.name, path.read_text())]
    cells = json.loads(path.read_text())["cells"]
    return [
        (f"{path.name} cell {index}", "".join(cell["source"]))
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "markdown"
    ]


def typed_numbers(path: Path) -> list[tuple[str, str, str]]:
    """``(where, number, context)`` for every measured-looking number not allowed on the page."""
    allowed = CONSTANTS | QUOTED | SETTINGS.get(path.name, {})
    found = []
    for where, text in prose_cells(path):
        prose = _strip_markup(text)
        for match in NUMBER.finditer(prose):
            whole, fraction = match.group(1), match.group(2)
            number = whole + (fraction or "")
            if not measured_looking(whole, fraction) or number.replace(",", "") in allowed:
                continue
            if number in allowed:
                continue
            start = max(match.start() - 40, 0)
            context = " ".join(prose[start : match.end() + 30].split())
            found.append((where, number, context))
        for number, context in math_numbers(text):
            if number not in allowed:
                found.append((where, number, context))
    return found


if __name__ == "__main__":
    total = 0
    for path in pages():
        for where, number, context in typed_numbers(path):
            total += 1
            print(f"{where}: {number!r}  ... {context}")
    print(total, "numbers")
