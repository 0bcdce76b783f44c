"""Sphinx extension: the printed book (the LaTeX builder) as a reader expects it.

Jupyter Book's own LaTeX layer (sphinx-jupyterbook-latex) needs fonts we do not install, so this
small extension does the few things the plain Sphinx LaTeX builder does not:

- the root page's text becomes an "Introduction" chapter, and each caption of ``_toc.yml``
  becomes a LaTeX part, as on the website's sidebar;
- a proof is typeset as a proof (no empty admonition bar), ending in a square;
- the bookkeeping lines that paste numbers into the reproduction table (``glue(...)``) are left
  out of printed code;
- in every medium, the proof index lists each result by its title, not by its internal label.
"""

from __future__ import annotations

import ast

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.builders.latex import LaTeXBuilder
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform


def _latex(text: str) -> nodes.raw:
    return nodes.raw("", text, format="latex")


class KeepPartCaptions(SphinxTransform):
    """Copy each toctree's caption onto its wrapper: inlining the chapters drops the toctree."""

    default_priority = 500

    def apply(self, **kwargs) -> None:
        for node in self.document.findall(nodes.compound):
            if "toctree-wrapper" in node["classes"]:
                toctree = next(iter(node.findall(addnodes.toctree)), None)
                if toctree is not None and toctree.get("caption"):
                    node["part_caption"] = toctree["caption"]


class PrintStructure(SphinxPostTransform):
    """Introduction chapter and parts, on the assembled LaTeX document."""

    default_priority = 760  # after the citations move to the end (BibliographyTransform, 750)
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        if self.app.project.path2doc(self.document["source"]) != self.config.root_doc:
            return
        root = next(iter(self.document.findall(nodes.section)), None)
        if root is None:
            return
        wrappers = [
            child
            for child in root.children
            if isinstance(child, nodes.compound) and "toctree-wrapper" in child["classes"]
        ]
        body = [
            child
            for child in root.children[1:]
            if child not in wrappers and not isinstance(child, nodes.title)
        ]
        intro = nodes.section(ids=["print-introduction"], names=["introduction"])
        intro += nodes.title("", "Introduction")
        for child in body:
            root.remove(child)
            intro += child
        for wrapper in wrappers:
            caption = wrapper.get("part_caption")
            chapters = [c for c in wrapper.children if isinstance(c, addnodes.start_of_file)]
            chapters = [c for c in chapters if _has_content(c)]
            for empty in [
                c
                for c in wrapper.children
                if isinstance(c, addnodes.start_of_file) and c not in chapters
            ]:
                wrapper.remove(empty)
            if caption and chapters:
                wrapper.insert(0, _latex(f"\\part{{{_escape(caption)}}}\n"))
        if wrappers:
            wrappers[0].insert(1, intro)
        else:
            root += intro


def _has_content(start: addnodes.start_of_file) -> bool:
    """False for a page that is only a heading (the references page: its list moves to the end)."""
    sections = [s for s in start.children if isinstance(s, nodes.section)]
    if not sections:
        return True
    return any(
        child.astext().strip()
        for child in sections[0].children
        if not isinstance(child, (nodes.title, nodes.target))
    )


def _escape(text: str) -> str:
    for char in "\\&%$#_{}":
        text = text.replace(char, "\\" + char)
    return text


class PrintProofs(SphinxPostTransform):
    """A proof as a paragraph starting with *Proof.* and ending in a square, no box."""

    default_priority = 690
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(nodes.admonition)):
            if "proof" not in node["classes"] or "admonition" != node.tagname:
                continue
            box = nodes.container(classes=["print-proof"])
            box += _latex("\\begin{bookproof}\n")
            box.extend(node.children)
            box += _latex("\n\\end{bookproof}\n")
            first = next(
                (t for t in box.findall(nodes.Text) if not isinstance(t.parent, nodes.raw)), None
            )
            for word in ("Proof. ",):
                if first is not None and str(first).startswith(word):
                    emphasis = nodes.emphasis("", word.strip())
                    first.parent.replace(first, nodes.Text(str(first)[len(word) - 1 :]))
                    paragraph = next(iter(box.findall(nodes.paragraph)))
                    paragraph.insert(0, emphasis)
            node.replace_self(box)


def _without_glue(code: str) -> str:
    """The code with its top-level ``glue(...)`` statements removed (line ranges from ast)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    drop: set[int] = set()
    for statement in ast.walk(tree):
        if (
            isinstance(statement, ast.Expr)
            and isinstance(statement.value, ast.Call)
            and getattr(statement.value.func, "id", None) == "glue"
        ):
            drop.update(range(statement.lineno, statement.end_lineno + 1))
    lines = [line for n, line in enumerate(code.splitlines(), 1) if n not in drop]
    return "\n".join(lines).strip("\n")


class PrintWithoutGlue(SphinxPostTransform):
    """Leave ``glue(...)`` bookkeeping out of printed code cells."""

    default_priority = 690
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        for block in list(self.document.findall(nodes.literal_block)):
            parent = block.parent
            if not isinstance(parent, nodes.container) or "cell_input" not in parent["classes"]:
                continue
            code = block.astext()
            if "glue(" not in code:
                continue
            kept = _without_glue(code)
            if kept.strip():
                block.children = [nodes.Text(kept)]
                block.rawsource = kept
            else:
                cell = parent.parent
                outputs = [
                    c
                    for c in cell.children
                    if isinstance(c, nodes.container) and "cell_output" in c["classes"]
                ]
                if all(not o.astext().strip() for o in outputs):
                    cell.parent.remove(cell)
                else:
                    parent.parent.remove(parent)


class PrintPageReferences(SphinxPostTransform):
    """In the reproduction table, "where" points to pages: "p. 14" instead of a section title."""

    default_priority = 690
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        for table in self.document.findall(nodes.table):
            if "reproduction-table-rows" not in table["ids"]:
                continue
            for reference in list(table.findall(nodes.reference)):
                uri = reference.get("refuri", "")
                if not uri.startswith("%") or "#" not in uri:
                    continue
                docname, anchor = uri[1:].split("#", 1)
                label = f"{docname}:{anchor}"
                reference.replace_self(
                    _latex(
                        f"\\hyperref[\\detokenize{{{label}}}]{{p.~\\pageref*{{\\detokenize{{{label}}}}}}}"
                    )
                )


class PrintWithoutWidgetPlaceholders(SphinxPostTransform):
    """A live control has nothing to show on paper: drop its text placeholder."""

    default_priority = 690
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        for output in list(self.document.findall(nodes.container)):
            if "cell_output" not in output["classes"]:
                continue
            text = output.astext().strip()
            if text.startswith("<live slider") and text.endswith(">") and "\n" not in text:
                output.parent.remove(output)


class KeepResultTitlesWithTheirText(SphinxPostTransform):
    """Start a theorem, lemma or definition on a new page if fewer than 6 lines are left."""

    default_priority = 690
    builders = ("latex",)

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(nodes.Element)):
            if "realtype" in node and node.parent is not None:
                node.parent.insert(
                    node.parent.index(node), _latex("\\needspace{6\\baselineskip}\n")
                )


def record_proof_titles(app: Sphinx, doctree: nodes.document) -> None:
    """Keep each result's title next to its label, for the proof index."""
    proofs = getattr(app.env, "proof_list", {})
    for node in doctree.findall(nodes.Element):
        label = node.get("label") if "realtype" in node else None
        if label in proofs:
            title = node.get("title", "").strip()
            if title.startswith("(") and title.endswith(")"):
                title = title[1:-1]
            proofs[label]["title"] = title


def titled_proof_index():
    from sphinx_proof.domain import ProofIndex

    class TitledProofIndex(ProofIndex):
        """The proof index, one entry per result, named by its title."""

        def generate(self, docnames=None):
            proofs = getattr(self.domain.env, "proof_list", {})
            entries = []
            for anchor, values in proofs.items():
                kind = values["realtype"].title()
                title = values.get("title") or kind
                page = self.domain.env.titles.get(values["docname"])
                where = page.astext() if page is not None else values["docname"]
                extra = f"{kind.lower()}, {where}"
                entries.append((title, (title, 0, values["docname"], anchor, extra, "", kind)))
            content: dict[str, list] = {}
            for title, entry in sorted(entries, key=lambda item: item[0].lower()):
                content.setdefault(title[0].upper(), []).append(entry)
            return sorted(content.items()), True

    return TitledProofIndex


def setup(app: Sphinx) -> dict:
    app.add_transform(KeepPartCaptions)
    app.add_post_transform(PrintStructure)
    app.add_post_transform(PrintProofs)
    app.add_post_transform(PrintWithoutGlue)
    app.add_post_transform(PrintPageReferences)
    app.add_post_transform(PrintWithoutWidgetPlaceholders)
    app.add_post_transform(KeepResultTitlesWithTheirText)
    app.connect("doctree-read", record_proof_titles)
    try:
        from sphinx_proof.domain import ProofDomain
    except ImportError:  # pragma: no cover - sphinx-proof is a requirement of the book
        pass
    else:
        ProofDomain.indices = [titled_proof_index()]
    assert LaTeXBuilder  # the transforms above run only for it
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
