"""A student's working copy of the book for JupyterLab: ``make lab`` runs this.

The chapters in ``book/`` are the book's source: the website and the PDF are built from them,
and the tests re-run them. A student should not work in them (JupyterLab autosaves), so
``make lab`` copies them into a folder of the student's own (``lab/``, ignored by git) and
opens that. A copy is made once and never overwritten; ``--reset NAME`` makes one afresh.

The copy is also where the chapters' Markdown becomes what JupyterLab can show. JupyterLab
(with jupyterlab-myst) renders one notebook at a time, with no build step, so three kinds of
MyST that the website resolves would show as raw text there. The copy replaces them:

* ``{glue:text}`key:fmt``` (a number pasted in from a cell): the value the notebook stored,
  formatted as the website formats it;
* a reference to a label in another chapter (``{ref}``, ``{doc}``): a Markdown link to that
  chapter, with the section's title as its text;
* a citation (``{cite:p}`key```): the authors and year from ``references.bib``.

Nothing else changes: cells, outputs, metadata and ids are kept, so the copy runs exactly as
the chapter does.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
BIBLIOGRAPHY = ROOT / "references.bib"

GLUE = re.compile(r"\{glue(?::text|:any)?\}`([^`]+)`")
GLUE_KEY = re.compile(r"^(?:(?P<page>[\w.-]+\.ipynb)::)?(?P<key>[\w-]+)(?::(?P<spec>.*))?$")
REFERENCE = re.compile(r"\{(ref|numref|prf:ref)\}`(?:([^`<]*?)\s*<)?([^`<>]+)>?`")
DOC = re.compile(r"\{doc\}`(?:([^`<]*?)\s*<)?([^`<>]+)>?`")
CITE = re.compile(r"\{cite(?::p|:t)?\}`([^`]+)`")
SECTION_LABEL = re.compile(r"^\(([\w-]+)\)=\s*\n+#+\s+(.+)$", re.M)
DIRECTIVE_LABEL = re.compile(
    r"^[`:]{3,}\{(prf:\w+|exercise|figure)\}\s*(.*)\n(?::[^\n]*\n)*?:label:\s*(\S+)", re.M
)
EQUATION_LABEL = re.compile(r"^\s*\$\$\s*\(([\w-]+)\)\s*$", re.M)
TITLE = re.compile(r"^#\s+(.+)$", re.M)


def markdown_of(notebook: dict) -> str:
    return "\n".join(
        "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"
    )


def glued_values(notebook: dict) -> dict[str, str]:
    """The ``text/plain`` of every value the notebook glued, by key."""
    values = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("scrapbook")
            if not record:
                continue
            prefix = record.get("mime_prefix", "")
            text = output.get("data", {}).get(prefix + "text/plain")
            if text is not None:
                values[record["name"]] = "".join(text) if isinstance(text, list) else text
    return values


def format_glued(text: str, spec: str | None) -> str:
    """The glued ``text/plain`` as the website shows it: formatted with ``spec`` if given
    (the value is read back as a Python literal, a number or a string)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    if spec:
        return format(value, spec)
    return value if isinstance(value, str) else text


class Book:
    """Everything the copies need to know about the other chapters: titles, labels, glue."""

    def __init__(self, book: Path = BOOK, bibliography: Path = BIBLIOGRAPHY):
        self.notebooks = {path.name: json.loads(path.read_text()) for path in book.glob("*.ipynb")}
        self.titles: dict[str, str] = {}
        self.labels: dict[str, tuple[str, str]] = {}  # label -> (page, title)
        self.glue = {name: glued_values(nb) for name, nb in self.notebooks.items()}
        pages = {name: markdown_of(nb) for name, nb in self.notebooks.items()}
        pages |= {path.name: path.read_text() for path in book.glob("*.md")}
        for name, text in pages.items():
            title = TITLE.search(text)
            self.titles[name] = title.group(1).strip() if title else name
            for label, heading in SECTION_LABEL.findall(text):
                self.labels[label] = (name, heading.strip())
            for kind, title_text, label in DIRECTIVE_LABEL.findall(text):
                self.labels[label] = (name, title_text.strip() or kind.split(":")[-1].title())
            for label in EQUATION_LABEL.findall(text):
                self.labels[label] = (name, "equation")
        self.citations = citations(bibliography)

    def render(self, text: str, page: str) -> str:
        """``text`` (Markdown of ``page``) with glue, cross-chapter references and citations
        replaced by what JupyterLab can show."""

        def glue(match: re.Match) -> str:
            parts = GLUE_KEY.match(match.group(1).strip())
            if not parts:
                return match.group(0)
            source = parts.group("page") or page
            stored = self.glue.get(source, {}).get(parts.group("key"))
            return match.group(0) if stored is None else format_glued(stored, parts.group("spec"))

        def reference(match: re.Match) -> str:
            role, text_given, label = match.groups()
            target = self.labels.get(label.strip())
            if target is None or target[0] == page:
                return match.group(0)  # in this notebook: jupyterlab-myst resolves it
            where, title = target
            return f"[{(text_given or title).strip()}]({where})"

        def doc(match: re.Match) -> str:
            text_given, name = match.groups()
            name = name.strip()
            where = next((p for p in (name + ".ipynb", name + ".md") if p in self.titles), None)
            if where is None:
                return match.group(0)
            return f"[{(text_given or self.titles[where]).strip()}]({where})"

        def cite(match: re.Match) -> str:
            keys = [key.strip() for key in match.group(1).split(",")]
            return "(" + "; ".join(self.citations.get(key, key) for key in keys) + ")"

        text = GLUE.sub(glue, text)
        text = REFERENCE.sub(reference, text)
        text = DOC.sub(doc, text)
        return CITE.sub(cite, text)

    def copy_of(self, name: str) -> dict:
        """The JupyterLab copy of the notebook ``name``."""
        notebook = json.loads(json.dumps(self.notebooks[name]))  # a deep copy
        for cell in notebook["cells"]:
            if cell["cell_type"] == "markdown":
                rendered = self.render("".join(cell["source"]), name)
                cell["source"] = rendered.splitlines(keepends=True)
        return notebook


def citations(bibliography: Path) -> dict[str, str]:
    """``key -> "Author and Author 2006"`` (three or more authors: "Author et al. 2006")."""
    found = {}
    for entry in re.split(r"\n(?=@)", bibliography.read_text()):
        key = re.match(r"@\w+\{([^,\s]+),", entry.strip())
        author = re.search(r"author\s*=\s*\{(.+?)\},?\s*\n", entry, re.S)
        year = re.search(r"year\s*=\s*\{?(\d{4})", entry)
        if not (key and year):
            continue
        names = [n.strip() for n in author.group(1).split(" and ")] if author else ["Anon."]
        surnames = [
            re.sub(r"[{}\\\"']", "", n.split(",")[0] if "," in n else n.split()[-1]) for n in names
        ]
        if len(surnames) >= 3:
            who = f"{surnames[0]} et al."
        else:
            who = " and ".join(surnames)
        found[key.group(1)] = f"{who} {year.group(1)}"
    return found


def write_copies(destination: Path, reset: list[str] | None = None) -> list[str]:
    """Copy every chapter (and the .md pages) into ``destination`` unless a copy exists;
    chapters named in ``reset`` are copied afresh. Returns the names written."""
    book = Book()
    destination.mkdir(parents=True, exist_ok=True)
    reset_names = {
        name if name.endswith((".ipynb", ".md")) else name + ".ipynb" for name in reset or []
    }
    unknown = reset_names - set(book.notebooks) - {p.name for p in BOOK.glob("*.md")}
    if unknown:
        raise SystemExit(
            f"no chapter named {sorted(unknown)}; the chapters are {sorted(book.notebooks)}"
        )
    written = []
    for name in sorted(book.notebooks):
        target = destination / name
        if target.exists() and name not in reset_names:
            continue
        target.write_text(json.dumps(book.copy_of(name), indent=1, ensure_ascii=False) + "\n")
        written.append(name)
    for path in sorted(BOOK.glob("*.md")):
        target = destination / path.name
        if target.exists() and path.name not in reset_names:
            continue
        target.write_text(book.render(path.read_text(), path.name))
        written.append(path.name)
    images = BOOK / "images"
    if images.is_dir() and not (destination / "images").exists():
        shutil.copytree(images, destination / "images")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("destination", type=Path, help="the student's folder, e.g. lab")
    parser.add_argument(
        "--reset", nargs="+", metavar="NAME", help="copy these chapters afresh (e.g. softmax)"
    )
    args = parser.parse_args(argv)
    written = write_copies(args.destination, args.reset)
    if written:
        print(f"{args.destination}/: wrote {', '.join(written)}")
    print(f"Your working copy is {args.destination}/ (the book's own chapters stay untouched).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
