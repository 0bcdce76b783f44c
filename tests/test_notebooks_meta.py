"""The committed notebooks open cleanly in JupyterLab.

Their metadata names the project's kernel exactly as a save in JupyterLab writes it, so opening a
notebook marks nothing as modified. JupyterLab (jupyterlab-myst) renders one notebook at a time,
with no build step: `make lab` opens the student's working copy (tools/lab_copy.py), in which
every pasted number, reference to another chapter and citation has been resolved. Here the
copies are made in memory and must hold no raw MyST: every glued key has a stored value, every
reference points into the same notebook or to a label another chapter defines.
"""

import ast
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
KERNELSPEC = {"display_name": "Python (mlderive)", "language": "python", "name": "mlderive"}
# What the ipykernel's kernel_info reply holds, and so what JupyterLab saves (bar the version).
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}
REFERENCE = re.compile(r"\{(eq|prf:ref|ref|numref)\}`(?:[^`<]*<)?([^`>]+)>?`")
LABELS = (
    re.compile(r"^:label:\s*(\S+)", re.M),  # directives: theorems, proofs, figures
    re.compile(r"^\s*\$\$\s*\(([\w-]+)\)\s*$", re.M),  # numbered equations
    re.compile(r"^\(([\w-]+)\)=\s*$", re.M),  # section targets
)


def lab_copies():
    """tools/lab_copy.py's Book, which renders a notebook as `make lab` copies it."""
    spec = importlib.util.spec_from_file_location("lab_copy", ROOT / "tools" / "lab_copy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Book()


BOOK = lab_copies()


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_names_the_project_kernel(path):
    metadata = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    assert metadata.get("kernelspec") == KERNELSPEC, (
        f"{path.name}: kernelspec {metadata.get('kernelspec')}; expected {KERNELSPEC}. "
        "Run `make setup` and choose the kernel 'Python (mlderive)' in JupyterLab."
    )
    info = metadata.get("language_info", {})
    assert {key: info.get(key) for key in LANGUAGE_INFO} == LANGUAGE_INFO, path.name
    assert re.fullmatch(r"3\.\d+\.\d+", info.get("version", "")), path.name


def test_makefile_registers_the_kernel_the_notebooks_name():
    makefile = (ROOT / "Makefile").read_text()
    command = re.search(
        r"ipykernel install --sys-prefix --name (\S+) --display-name \"([^\"]+)\"", makefile
    )
    assert command, "the Makefile's setup no longer registers the project's kernel"
    assert command.groups() == (KERNELSPEC["name"], KERNELSPEC["display_name"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_renders_in_jupyterlab_too(path):
    copy = BOOK.copy_of(path.name)
    text = "\n".join("".join(c["source"]) for c in copy["cells"] if c["cell_type"] == "markdown")
    unrendered = sorted(set(re.findall(r"\{(?:glue|doc|cite)[\w:]*\}`[^`]*`", text)))
    assert not unrendered, (
        f"{path.name}'s JupyterLab copy still shows {unrendered}: a glued key with no stored "
        "value (re-execute the notebook: make execute NOTEBOOKS=book/...) or a {doc} of a page "
        "that does not exist"
    )
    labels = {label for pattern in LABELS for label in pattern.findall(text)}
    outside = sorted({target for _, target in REFERENCE.findall(text)} - labels)
    assert not outside, f"{path.name} refers to labels that no chapter defines: {outside}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glued_value_is_a_plain_python_literal(path):
    """The website, the PDF's table test and the lab copy read glued values back as literals:
    glue float(x), not a NumPy scalar (whose record is "np.float64(...)")."""
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            key = output.get("metadata", {}).get("scrapbook", {}).get("name")
            record = output.get("data", {}).get("application/papermill.record/text/plain")
            if key and record is not None:
                try:
                    ast.literal_eval(record)
                except ValueError:
                    pytest.fail(f"{path.name}: glue {key!r} stores {record[:60]!r}, not a literal")
