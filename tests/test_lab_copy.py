"""The student's working copy that `make lab` opens (tools/lab_copy.py)."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("lab_copy", ROOT / "tools" / "lab_copy.py")
lab_copy = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lab_copy)


@pytest.fixture(scope="module")
def book():
    return lab_copy.Book()


def test_glued_numbers_are_formatted_as_the_website_formats_them():
    assert lab_copy.format_glued("0.91234", ".2f") == "0.91"
    assert lab_copy.format_glued("407050", ",d") == "407,050"
    assert lab_copy.format_glued("3.2e-10", ".0e") == "3e-10"
    assert lab_copy.format_glued("'0.05'", "s") == "0.05"
    assert lab_copy.format_glued("'Adam'", None) == "Adam"
    assert lab_copy.format_glued("12", None) == "12"


def test_a_copy_keeps_every_code_cell_and_output(book):
    for name, source in book.notebooks.items():
        copy = book.copy_of(name)
        assert len(copy["cells"]) == len(source["cells"]), name
        for original, copied in zip(source["cells"], copy["cells"], strict=True):
            assert copied.get("id") == original.get("id")
            if original["cell_type"] == "code":
                assert copied == original, f"{name}: a code cell changed in the copy"


def test_render_resolves_glue_references_and_citations(book):
    page = next(iter(book.glue.items()))
    name, values = page
    key, stored = next(iter(values.items()))
    text = f"x {{glue:text}}`{key}` y"
    assert book.render(text, name) == f"x {lab_copy.format_glued(stored, None)} y"
    label, (where, title) = next(iter(book.labels.items()))
    other = next(n for n in book.notebooks if n != where)
    assert book.render(f"{{ref}}`{label}`", other) == f"[{title}]({where})"
    assert book.render(f"{{ref}}`{label}`", where) == f"{{ref}}`{label}`"  # same notebook
    assert (
        book.render("{doc}`how-to-use`", other)
        == f"[{book.titles['how-to-use.md']}](how-to-use.md)"
    )
    assert book.render("{cite:p}`bishop2006pattern`", other) == "(Bishop 2006)"
    assert book.render("{cite:p}`boyd2004convex,murphy2012machine`", other) == (
        "(Boyd and Vandenberghe 2004; Murphy 2012)"
    )


def test_copies_are_made_once_and_reset_on_request(tmp_path):
    written = lab_copy.write_copies(tmp_path)
    assert "softmax.ipynb" in written and "intro.md" in written
    copy = tmp_path / "softmax.ipynb"
    work = json.loads(copy.read_text())
    work["cells"][0]["source"] = ["my own notes"]
    copy.write_text(json.dumps(work))
    assert lab_copy.write_copies(tmp_path) == []  # nothing is overwritten
    assert json.loads(copy.read_text())["cells"][0]["source"] == ["my own notes"]
    assert lab_copy.write_copies(tmp_path, reset=["softmax"]) == ["softmax.ipynb"]
    assert json.loads(copy.read_text())["cells"][0]["source"] != ["my own notes"]
    with pytest.raises(SystemExit, match="no chapter named"):
        lab_copy.write_copies(tmp_path, reset=["no-such-chapter"])


def test_the_reproduction_table_shows_numbers_in_the_copy(book):
    intro = book.render((ROOT / "book" / "intro.md").read_text(), "intro.md")
    assert "{glue" not in intro, "a glue key of the reproduction table has no stored value"


def test_every_reference_in_the_book_names_a_label_the_book_defines(book):
    """A {ref} to a label that no longer exists prints the bare label in the PDF."""
    pages = {name: lab_copy.markdown_of(notebook) for name, notebook in book.notebooks.items()}
    pages.update({path.name: path.read_text() for path in (ROOT / "book").glob("*.md")})
    targets = {
        label for text in pages.values() for label in re.findall(r"^\(([\w-]+)\)=", text, re.M)
    }
    missing = {
        (name, label)
        for name, text in pages.items()
        for role, _, label in lab_copy.REFERENCE.findall(text)
        if role in ("ref", "prf:ref") and label.strip() not in set(book.labels) | targets
    }
    assert not missing, sorted(missing)
