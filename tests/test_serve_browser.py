"""The live page in a real browser: Debian's chromium driven by Playwright.

Skipped when the ``playwright`` package or ``/usr/bin/chromium`` is missing (CI installs
both; never run ``playwright install``, which downloads browsers). The test takes a
screenshot; with ``DELTAPROP_UPDATE_DOCS=1`` it replaces the one ``docs/serve.md`` shows,
``docs/images/serve.png`` (otherwise the tracked file is left alone).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

import deltaprop as dp
from deltaprop import live
from deltaprop.live import model_from_table
from deltaprop.tabular import read_table

sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("pandas")

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "images" / "serve.png"
#: Screenshots kept for a person to look at (ignored by git); also copied to /tmp.
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SCREENS = Path("/tmp/live-screens")

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no {CHROMIUM}")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.problems = []
    page.on(
        "console",
        lambda m: (
            page.problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    yield page
    context.close()


def dataset(page) -> dict:
    return page.evaluate("() => Object.assign({}, document.body.dataset)")


def wait_for(page, condition, timeout=20.0) -> dict:
    """Poll the page's data attributes (the page's CSP forbids Playwright's eval)."""
    deadline = time.monotonic() + timeout
    while True:
        data = dataset(page)
        if condition(data):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; the page shows {data}; problems {page.problems}")
        page.wait_for_timeout(40)


def moons(n, rng):
    """Two interleaved half circles (standardised), labels 0/1."""
    t = rng.uniform(0.0, np.pi, n)
    label = rng.integers(0, 2, n)
    X = np.column_stack(
        [
            np.cos(t) + label - 0.5 + rng.normal(0.0, 0.12, n),
            np.sin(t) * (1 - 2 * label) + 0.4 * label - 0.2 + rng.normal(0.0, 0.12, n),
        ]
    )
    return (X - X.mean(axis=0)) / X.std(axis=0), label.astype(np.float64)


def engine_loss(server) -> float:
    session = server.session
    loss, _ = session.net.loss_and_gradients(session.X, session.y, session.sample_weight)
    return loss


def test_the_page_shows_the_engines_training(page, tmp_path):
    X, y = moons(300, np.random.default_rng(0))
    net = dp.Network(
        [dp.Dense(2, 8, "tanh"), dp.Dense(8, 6, "tanh"), dp.Dense(6, 1)], random_state=0
    )
    server = dp.serve(
        net,
        X,
        y,
        optimizer=dp.SGD(learning_rate=0.3, momentum=0.9),
        max_iter=100_000,
        validation_fraction=0.2,
        random_state=0,
        epochs_per_second=400,
        feature_names=["x1", "x2"],
        class_names=["blue moon", "orange moon"],
        title="moons.csv",
        block=False,
    )
    with server:
        page.goto(server.url)
        data = wait_for(page, lambda d: d["epoch"] not in ("", "0"))
        assert data["state"] == "running"
        # one circle per unit, one line per weight
        assert page.locator("#network circle.unit").count() == 2 + 8 + 6 + 1
        assert page.locator("#network line.link").count() == 2 * 8 + 8 * 6 + 6 * 1
        assert (data["units"], data["links"]) == ("17", "70")
        assert page.locator("#network circle.unit[data-layer='3']").count() == 1
        assert page.locator("#boundary-svg circle.point").count() == 240

        wait_for(page, lambda d: int(d["epoch"]) >= 600)
        page.click("#play")  # pause
        data = wait_for(page, lambda d: d["state"] == "paused")
        time.sleep(0.3)  # no frame may follow the pause's
        data = dataset(page)
        assert int(data["epoch"]) == server.session.epoch
        assert float(data["loss"]) == pytest.approx(engine_loss(server), abs=1e-6)
        shown = float(page.locator("#loss").inner_text())
        assert shown == pytest.approx(float(data["loss"]), rel=1e-5)
        page.wait_for_timeout(300)
        assert dataset(page)["epoch"] == data["epoch"]  # paused means paused

        # hovering a unit shows its exact numbers and formulas
        page.hover("#network circle.unit[data-layer='1'][data-unit='1']")
        tip = page.locator("#tooltip")
        assert tip.is_visible()
        text = tip.inner_text()
        assert "hidden layer 1, unit 2" in text and "a = tanh(z)" in text and "δ = ∂L/∂z" in text
        assert "row 1 of the training data" in text  # rows count from 1 on the page
        first = server.session.net.layers[0]  # the value shown is row 1's activation
        z = server.session.X[0] @ first.weights + first.bias
        shown_a = float(re.search(r"a = tanh\(z\) = (\S+)", text).group(1))
        assert shown_a == pytest.approx(np.tanh(z[1]), abs=1e-7)
        shot = SCREENSHOT if os.environ.get("DELTAPROP_UPDATE_DOCS") == "1" else tmp_path / "p.png"
        assert page.screenshot(path=str(shot))[:4] == b"\x89PNG"

        # units by delta, links by gradient: the drawing changes
        fill = page.locator("#network circle.unit[data-layer='1'][data-unit='0']")
        before = fill.get_attribute("fill")
        page.click("button[data-view-units='delta']")
        page.click("button[data-view-links='gradient']")
        assert fill.get_attribute("fill") != before
        assert page.locator("#network circle.unit.input").first.get_attribute("fill") == (
            "#d1d5db"  # inputs have no delta
        )

        # one step: one more epoch, and its explain trace
        epoch = int(data["epoch"])
        page.click("#step")
        page.locator("#trace-panel").wait_for(state="visible")
        data = wait_for(page, lambda d: int(d["epoch"]) == epoch + 1)
        assert data["state"] == "paused"
        assert "1 Forward pass" in page.locator("#trace").text_content()
        assert "δ[1] = ∂L/∂z" in page.locator("#row-trace").inner_text()
        assert float(data["loss"]) == pytest.approx(engine_loss(server), abs=1e-6)
        page.click("#trace-close")

        # a new learning rate reaches the engine
        page.fill("#learning-rate", "0.05")
        page.press("#learning-rate", "Enter")
        deadline = time.monotonic() + 10
        while server.session.status()["settings"]["learning_rate"] != 0.05:
            assert time.monotonic() < deadline
            page.wait_for_timeout(40)
    assert page.problems == []


@pytest.mark.parametrize("kind", ["multiclass", "regression"])
def test_the_page_draws_csv_data(page, tmp_path, kind):
    rng = np.random.default_rng(1)
    n = 60
    X = rng.normal(size=(n, 3))
    if kind == "multiclass":
        target = np.array(["cat", "dog", "bird"])[np.argmax(X @ rng.normal(size=(3, 3)), axis=1)]
    else:
        target = (X @ np.array([1.0, -2.0, 0.5]) * 10 + 50).round(2)
    lines = ["a,b,c,target"] + [f"{r[0]},{r[1]},{r[2]},{t}" for r, t in zip(X, target, strict=True)]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    model = model_from_table(read_table(path), "target", hidden=[5, 4], random_state=0)
    server = dp.serve(
        model.network,
        model.X,
        model.y,
        max_iter=100_000,
        epochs_per_second=200,
        feature_names=model.feature_names,
        class_names=model.class_names,
        preprocessor=model.preprocessor,
        block=False,
    )
    n_out = 3 if kind == "multiclass" else 1
    with server:
        page.goto(server.url)
        wait_for(page, lambda d: d["epoch"] not in ("", "0"))
        page.click("#play")
        data = wait_for(page, lambda d: d["state"] == "paused")
        time.sleep(0.3)
        data = dataset(page)
        assert float(data["loss"]) == pytest.approx(engine_loss(server), abs=1e-6)
        assert page.locator("#network circle.unit").count() == 3 + 5 + 4 + n_out
        assert page.locator("#network line.link").count() == 3 * 5 + 5 * 4 + 4 * n_out
        assert page.locator("#download-preprocessor").is_visible()
        assert page.locator("#accuracy-panel").is_visible() == (kind == "multiclass")
        assert "principal components" in page.locator("#boundary-caption").inner_text()
        if kind == "multiclass":
            assert "bird" in page.locator("#network").text_content()
            assert 0.0 <= float(data["accuracy"]) <= 1.0
        else:
            assert data["accuracy"] == ""
    assert page.problems == []


def keep(page, name):
    """Save a screenshot under tests/artifacts/ and /tmp/live-screens/ for a person to see."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    try:
        SCREENS.mkdir(exist_ok=True)
        (SCREENS / name).write_bytes(path.read_bytes())
    except OSError:
        pass
    print(f"screenshot: {path}")


def covered(page, selector):
    """Whether another element lies on a 5 x 5 grid of points of ``selector``'s visible box."""
    page.mouse.move(0, 0)  # no tooltip
    page.wait_for_timeout(600)  # smooth scrolling ends
    return page.evaluate(
        """(selector) => {
            const el = document.querySelector(selector);
            const r = el.getBoundingClientRect();
            const top = Math.max(r.top, 0), bottom = Math.min(r.bottom, window.innerHeight);
            if (bottom <= top) return false;
            for (const fx of [0.02, 0.25, 0.5, 0.75, 0.98]) {
                for (const fy of [0.02, 0.25, 0.5, 0.75, 0.98]) {
                    const x = r.left + fx * r.width, y = top + fy * (bottom - top);
                    const at = document.elementFromPoint(x, y);
                    if (at !== null && !(el.contains(at) || at.contains(el))) return true;
                }
            }
            return false;
        }""",
        selector,
    )


def test_set_a_weight_switch_toys_and_the_layout(browser):
    server = live.serve_toy("xor", hidden=[4], max_iter=300, block=False)
    with server:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
        page.goto(server.url)
        data = wait_for(page, lambda d: d.get("state") == "done" and d.get("boundary"))
        # click a weight, type a value: the loss and the boundary change at once
        page.locator(
            "#network line.link[data-layer='1'][data-from='0'][data-to='1']"
        ).dispatch_event("click")
        assert "W[1]₁₂" in page.locator("#editor-name").inner_text()
        page.fill("#param-value", "6")
        page.press("#param-value", "Enter")
        edited = wait_for(page, lambda d: d["edited"] == "true")
        assert server.network.layers[0].weights[0, 1] == 6.0
        assert edited["loss"] != data["loss"] and edited["boundary"] != data["boundary"]
        assert float(edited["loss"]) == pytest.approx(engine_loss(server), rel=1e-12)
        # a bias by clicking its unit, then back to the trained weights
        page.click("#network circle.unit[data-layer='2'][data-unit='0']")
        page.fill("#param-value", "-3")
        page.press("#param-value", "Enter")
        wait_for(page, lambda d: d["loss"] not in (edited["loss"],))
        assert server.network.layers[1].bias[0] == -3.0
        page.click("#restore")
        back = wait_for(page, lambda d: d["edited"] == "false")
        assert back["loss"] == data["loss"] and back["boundary"] == data["boundary"]
        assert page.locator("#units canvas").count() == 4  # one picture per hidden unit
        # a step: the row's numbers appear below, covering nothing
        page.click("#step")
        page.locator("#row-trace table").first.wait_for()
        page.evaluate("() => window.scrollTo(0, 0)")
        for selector in ("#network", "#boundary"):
            assert not covered(page, selector), selector
        keep(page, "live-1280x800.png")
        # every toy from the menu
        for name in live.TOYS:
            page.select_option("#dataset", name)
            wait_for(page, lambda d, name=name: d.get("dataset") == name and d.get("boundary"))
        assert server.session.data.key == "sine"
        context.close()

        phone = browser.new_context(viewport={"width": 390, "height": 844})
        page = phone.new_page()
        page.on("pageerror", lambda e: pytest.fail(f"page error: {e}"))
        page.goto(server.url)
        wait_for(page, lambda d: d.get("boundary"))
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390  # nothing wider than the phone
        for selector in ("#network", "#boundary"):
            page.locator(selector).scroll_into_view_if_needed()
            assert not covered(page, selector), selector
        page.evaluate("() => window.scrollTo(0, 0)")
        keep(page, "live-390x844.png")
        phone.close()
    assert page.problems == [] if hasattr(page, "problems") else True
