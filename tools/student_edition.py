"""Sphinx extension for the student edition: every solution removed, code cells included.

sphinx-exercise's ``hide_solutions`` drops ``solution`` directives, but the gated form
(``solution-start`` ... ``solution-end``, used so that a solution can hold executed code
cells) would leave those cells behind. With ``hide_solutions`` set, this extension turns each
``solution-start`` into a marker and removes everything from the marker to its
``solution-end``; a "Solutions" section left with nothing but its title and an
introductory paragraph goes too.
Loaded only by the student build (tools/build_student_pdf.py).
"""

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node


class hidden_solution_start(nodes.Element):
    """Where a removed gated solution began."""


class HiddenSolutionStart(SolutionStartDirective):
    def run(self):
        nodes_ = super().run()  # keeps sphinx-exercise's gated-structure bookkeeping
        return nodes_ if not self.config.hide_solutions else [hidden_solution_start()]


class RemoveHiddenSolutions(SphinxTransform):
    default_priority = 9  # before sphinx-exercise merges gated solutions (priority 10)

    def apply(self):
        for start in list(self.document.findall(hidden_solution_start)):
            parent = start.parent
            first = parent.index(start)
            last = next(
                i for i in range(first, len(parent)) if isinstance(parent[i], solution_end_node)
            )
            for child in parent.children[first : last + 1]:
                parent.remove(child)
        for section in list(self.document.findall(nodes.section)):
            title, *rest = section.children or [None]
            if (
                isinstance(title, nodes.title)
                and title.astext() == "Solutions"
                and all(isinstance(child, nodes.paragraph) for child in rest)
            ):
                section.parent.remove(section)


def setup(app):
    app.setup_extension("sphinx_exercise")
    app.add_node(hidden_solution_start)
    app.add_directive("solution-start", HiddenSolutionStart, override=True)
    app.add_transform(RemoveHiddenSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
