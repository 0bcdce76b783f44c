"""The PDF a reader would print: every chapter there, references resolved, math typeset."""

import re

from .conftest import chapter_titles


def squash(text: str) -> str:
    """Fold white space and typographic quotes (LaTeX turns ' into a right quote)."""
    return re.sub(r"\s+", " ", text).replace("\u2019", "'")


def test_every_chapter_title_is_in_the_pdf(pdf_text):
    text = squash(pdf_text).lower()
    missing = [title for title in chapter_titles() if title.lower() not in text]
    assert not missing, f"chapters missing from the PDF: {missing}"


def test_no_unresolved_references(pdf_text):
    assert "??" not in pdf_text


def test_no_raw_math_or_widget_reprs_leak(pdf_text):
    for leaked in ("$$", r"\frac", r"\mathbb", r"\operatorname", r"\hat{y}_i =", "prf:"):
        assert leaked not in pdf_text, f"raw markup {leaked!r} in the PDF"
    for repr_start in ("VBox(children", "interactive(children", "IntSlider(", "FloatSlider("):
        assert repr_start not in pdf_text, f"a widget's repr {repr_start!r} leaked into the PDF"
