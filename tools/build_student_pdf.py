"""Build the student PDF: the book without solutions (`make pdf-student`).

Writes a copy of _config.yml with sphinx-exercise's ``hide_solutions: true`` and the
tools/student_edition.py extension (which also removes solutions that hold code cells), then
runs the same pdflatex build as `make pdf` into OUTPUT/_build/latex/mlderive.pdf.
Usage: python tools/build_student_pdf.py [OUTPUT]   (default: _build/student)
"""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def student_config(output: Path) -> Path:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = config.setdefault("sphinx", {})
    sphinx.setdefault("config", {})["hide_solutions"] = True
    extensions = sphinx.setdefault("local_extensions", {})
    # The copy lives elsewhere, so every local extension's folder is made absolute.
    for name, folder in extensions.items():
        extensions[name] = str((ROOT / folder).resolve())
    extensions["student_edition"] = str(ROOT / "tools")
    path = output / "_config_student.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def main(output: str = "_build/student") -> int:
    out = Path(output).resolve()
    out.mkdir(parents=True, exist_ok=True)
    config = student_config(out)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(ROOT), "--builder", "pdflatex"]
    command += ["--config", str(config), "--path-output", str(out)]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
