"""JupyterLab as a student uses it: open a chapter, run all cells, read the prose, move a slider.

A JupyterLab server runs on a free local port with a token, in a temporary folder that holds a
copy of the chapter (so running it never touches the committed notebook), with its own Jupyter
config, data and settings folders. Only the environment's own settings apply: the kernel and the
overrides that `make setup` installs, and the jupyterlab-myst extension. Headless Chromium then
does what a student does, through the menus and the keyboard.
"""

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT, chromium, require_tools

CHAPTER = "softmax.ipynb"
KERNEL = "mlderive"
# Settings of this test's own (temporary) user: every cell stays in the page, so the checks see
# the whole notebook, and nothing is ever saved.
USER_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}
SCREENSHOTS = ROOT / "_build" / "screenshots"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll ``condition()`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running JupyterLab server: yields its base URL and token, stops it afterwards."""
    require_tools("chromium", "chromedriver")
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        pytest.fail(f"the kernel {KERNEL!r} is not registered: run `make setup`")

    home = tmp_path_factory.mktemp("lab")
    notebooks = home / "notebooks"
    notebooks.mkdir()
    # What `make lab` opens: the student's copy, with glue, cross-chapter links and citations
    # resolved (tools/lab_copy.py).
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "lab_copy.py"), str(notebooks)],
        check=True,
        capture_output=True,
    )
    for name, values in USER_SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    )
    # `make lab` trusts the book's notebooks, so their stored outputs show before anything runs.
    jupyter = str(Path(sys.executable).parent / "jupyter")
    subprocess.run(
        [jupyter, "trust", str(notebooks / CHAPTER)], env=env, check=True, capture_output=True
    )
    port, token = free_port(), secrets.token_hex(16)
    command = [
        str(Path(sys.executable).parent / "jupyter-lab"),
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks}",
        "--LabApp.expose_app_in_browser=True",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root
    log = (home / "server.log").open("w")
    started = time.monotonic()
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy

    def up() -> bool:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited:\n{(home / 'server.log').read_text()[-3000:]}")
        try:
            with direct.open(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=5):
                return True
        except OSError:
            return False

    try:
        wait_for(up, 90, "the JupyterLab server to answer")
        timings = {"server start": time.monotonic() - started}
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "timings": timings}
        print("JupyterLab times: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    with chromium("1400,1000", ("--no-proxy-server",)) as driver:
        yield driver


# The notebook as JupyterLab holds it (the app is exposed for the test's server only).
NOTEBOOK_STATE = """
const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) return null;
const session = panel.sessionContext;
const cells = Array.from(panel.content.model.cells).map(cell => {
  const json = cell.toJSON();
  return {type: json.cell_type,
          count: json.execution_count === undefined ? null : json.execution_count,
          errors: (json.outputs || []).filter(o => o.output_type === 'error')
                                      .map(o => o.ename + ': ' + o.evalue)};
});
return {
  path: panel.context.path,
  ready: panel.context.isReady,
  dirty: panel.context.model.dirty,
  kernel: session.session && session.session.kernel ? session.session.kernel.name : null,
  status: session.kernelDisplayStatus,
  cells: cells,
};
"""

# Text of every rendered Markdown cell, without typeset math and code spans, and the references
# jupyterlab-myst could not resolve (it shows their label with a warning sign).
RENDERED_MARKDOWN = """
const panel = window.jupyterapp.shell.currentWidget;
return Array.from(panel.node.querySelectorAll('.jp-MarkdownCell')).map(cell => {
  const rendered = cell.querySelector('.jp-MarkdownOutput, .myst');
  if (!rendered || cell.querySelector('.jp-Editor:not(.lm-mod-hidden)')) return null;
  const unresolved = Array.from(rendered.querySelectorAll(
    '[title*="Not Found" i], [title*="unknown" i]')).map(e => e.textContent);
  const copy = rendered.cloneNode(true);
  copy.querySelectorAll('.katex, code, pre, script, style').forEach(e => e.remove());
  return {text: copy.textContent, unresolved: unresolved};
});
"""

# Before anything runs: are the cells trusted, and do the saved widgets show as widgets?
STORED_OUTPUTS = """
const panel = window.jupyterapp.shell.currentWidget;
const code = Array.from(panel.content.model.cells).filter(cell => cell.type === 'code');
return {
  trusted: code.every(cell => cell.trusted),
  sliders: panel.node.querySelectorAll(
    '.jp-OutputArea .widget-slider, .jp-OutputArea .jupyter-widget-slider').length,
};
"""

# The first ipywidgets slider in an output area, and a digest of every image in that output.
SLIDER_OUTPUT = """
const done = arguments[arguments.length - 1];
const slider = document.querySelector(
  '.jp-OutputArea .widget-slider, .jp-OutputArea .jupyter-widget-slider');
if (!slider) { done(null); return; }
const output = slider.closest('.jp-OutputArea-output') || slider.closest('.jp-OutputArea');
const images = Array.from(output.querySelectorAll('img'));
Promise.all(images.map(img => fetch(img.src).then(r => r.arrayBuffer()).then(buffer => {
  const bytes = new Uint8Array(buffer);
  let hash = 0;
  for (let i = 0; i < bytes.length; i++) { hash = (hash * 31 + bytes[i]) >>> 0; }
  return bytes.length + ':' + hash;
}))).then(digests => done({digests: digests, text: slider.innerText}), () => done(null));
"""


def click_menu(browser, menu: str, item: str) -> None:
    """Open a menu of the menu bar and click one of its items, as a student does."""
    from selenium.webdriver.common.by import By

    bar = browser.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
    next(b for b in bar if b.text.strip() == menu).click()
    items = wait_for(
        lambda: [
            e
            for e in browser.find_elements(By.CSS_SELECTOR, ".lm-Menu-item")
            if e.text.split("\n")[0].strip() == item
        ],
        10,
        f"the menu item {menu} > {item}",
    )
    items[0].click()


@pytest.fixture(scope="module")
def chapter(lab, browser):
    """The chapter opened, cleared and run with Run > Run All Cells; its state at each step."""
    timings = lab["timings"]
    started = time.monotonic()
    browser.get(f"{lab['url']}/lab/tree/{CHAPTER}?token={lab['token']}")

    def opened():
        state = browser.execute_script(NOTEBOOK_STATE)
        return state if state and state["ready"] and state["status"] == "idle" else None

    opened_state = wait_for(opened, 120, f"{CHAPTER} to open with an idle kernel")
    timings["open with an idle kernel"] = time.monotonic() - started
    time.sleep(1)  # the kernel's info has arrived: give the metadata update time to land
    opened_state = browser.execute_script(NOTEBOOK_STATE)

    def all_prose_rendered():
        prose = browser.execute_script(RENDERED_MARKDOWN)
        return prose if prose and all(text is not None for text in prose) else None

    # jupyterlab-myst renders each Markdown cell on its own, after the notebook opens; a long
    # chapter on a busy machine takes more than a moment. A cell that never renders fails here.
    prose_before_running = wait_for(all_prose_rendered, 60, "every Markdown cell to render")
    stored = browser.execute_script(STORED_OUTPUTS)

    # The stored outputs carry execution counts: clear them, so every count seen below is new.
    click_menu(browser, "Edit", "Clear Outputs of All Cells")
    wait_for(
        lambda: not any(c["count"] for c in browser.execute_script(NOTEBOOK_STATE)["cells"]),
        10,
        "the outputs to clear",
    )
    click_menu(browser, "Run", "Run All Cells")
    run_started = time.monotonic()

    def finished():
        state = browser.execute_script(NOTEBOOK_STATE)
        code = [cell for cell in state["cells"] if cell["type"] == "code"]
        if any(cell["errors"] for cell in code):
            return state  # stop at the first error: later cells do not run
        done = all(cell["count"] for cell in code) and state["status"] == "idle"
        return state if done else None

    state = wait_for(finished, 120, "Run All Cells to finish")
    timings["Run All"] = time.monotonic() - run_started
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "lab-run-all.png"))
    return {"opened": opened_state, "prose": prose_before_running, "stored": stored, "ran": state}


def test_opening_uses_the_project_kernel_and_changes_nothing(chapter):
    opened = chapter["opened"]
    assert opened["kernel"] == KERNEL
    assert not opened["dirty"], "the notebook counts as modified right after opening"


def test_trusted_notebook_shows_its_saved_widgets_before_running(chapter):
    stored = chapter["stored"]
    assert stored["trusted"], "the notebook's outputs are not trusted"
    assert stored["sliders"] >= 1, "the saved widget state shows no slider"


def test_no_news_prompt(lab, browser, chapter):
    url = f"{lab['url']}/lab/api/settings/@jupyterlab/apputils-extension:notification"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{url}?token={lab['token']}", timeout=10) as response:
        schema = json.load(response)["schema"]
    assert schema["properties"]["fetchNews"]["default"] == "false", (
        "JupyterLab's settings override is missing from the environment: run `make setup`"
    )
    text = browser.execute_script("return document.body.innerText")
    assert "Jupyter news" not in text, (
        "JupyterLab asks about news: the settings override is missing (run `make setup`)"
    )


def test_prose_renders_without_raw_myst(chapter):
    prose = chapter["prose"]
    assert prose and all(text is not None for text in prose), "a Markdown cell is not rendered"
    raw = re.compile(
        r"\{(?:eq|prf:\w+|ref|numref|doc|glue:?\w*|note)\}|:::|:label:|\$\$|\([\w-]+\)="
    )
    found = {i: [m[0] for m in raw.finditer(c["text"])] for i, c in enumerate(prose)}
    found = {i: markers for i, markers in found.items() if markers}
    assert not found, f"raw MyST in rendered Markdown (cell: markers): {found}"
    # A notebook has no bibliography, so JupyterLab shows a citation as its key; the website
    # and the PDF resolve it against references.bib. Any other unresolved label is an error.
    bibtex = (Path(__file__).resolve().parents[2] / "references.bib").read_text()
    citation_keys = set(re.findall(r"^@\w+\{([^,\s]+),", bibtex, flags=re.M))
    unresolved = {
        i: [label for label in c["unresolved"] if label.strip(" []()") not in citation_keys]
        for i, c in enumerate(prose)
    }
    unresolved = {i: labels for i, labels in unresolved.items() if labels}
    assert not unresolved, f"references JupyterLab cannot resolve (cell: labels): {unresolved}"
    text = "\n".join(c["text"] for c in prose)
    for rendered in ("Theorem", "Proof", "Lemma"):  # the theorem boxes have their titles
        assert rendered in text, f"no rendered {rendered!r} box"


def test_run_all_has_no_errors(chapter):
    errors = [cell["errors"] for cell in chapter["ran"]["cells"] if cell["errors"]]
    assert not errors, f"cells raised errors: {errors}"
    counts = [cell["count"] for cell in chapter["ran"]["cells"] if cell["type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"execution counts {counts}"


def test_moving_a_slider_changes_its_image(browser, chapter):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    before = browser.execute_async_script(SLIDER_OUTPUT)
    assert before and before["digests"], "no ipywidgets slider with an image in the outputs"
    handle = wait_for(
        lambda: browser.find_elements(
            By.CSS_SELECTOR,
            ".jp-OutputArea .widget-slider .noUi-handle,"
            " .jp-OutputArea .jupyter-widget-slider .noUi-handle",
        ),
        10,
        "the slider's handle",
    )[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    handle.click()
    started = time.monotonic()
    for _ in range(3):
        handle.send_keys(Keys.ARROW_RIGHT)

    def redrawn():
        now = browser.execute_async_script(SLIDER_OUTPUT)
        return now if now and now["digests"] != before["digests"] else None

    after = wait_for(redrawn, 20, "the slider's image to change")
    assert after["text"] != before["text"], "the slider's readout did not move"
    print(f"slider redraw {time.monotonic() - started:.1f} s")
    browser.save_screenshot(str(SCREENSHOTS / "lab-slider.png"))
