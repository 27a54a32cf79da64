"""End-to-end test of the web dashboard in headless Chromium against the real service.

One workflow, as a user would click through it: log in, upload a CSV file and an MNIST
subset (real MNIST from ../shared/data/mnist when present, else synthetic digits), preview
rows, create a cluster in the template editor, train it while watching the live charts, run
a request, read the result chart, the accuracy and the confusion matrix, save and restore a
checkpoint, look at the system page, then, as admin, create a project and a user who logs in
and sees only their own project. A second test repeats the main pages at phone width.

The browser must stay clean: any console error, uncaught exception, failed request or HTTP
error answer fails the test. Screenshots go to the test's tmp folder; two are copied to
/tmp/dashboard_shots/.
"""

from __future__ import annotations

import gzip
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dashboard_helpers import DashboardServer, Problems, Shots

MNIST_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
TRAIN_ROWS = 3000
TEST_ROWS = 500
EPOCHS = 10
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000
TASK_TIMEOUT_MS = 240_000

BROKEN_TEMPLATE = """version: 1
hexagons:
    1,1,1
    3,1,1
axons:
    1,1,1 -> 5,1,1
inputs:
    picture_hex: 1,1,1
outputs:
    label_hex: 3,1,1
"""

MEMBER_ID = "alice_user"
MEMBER_PASSPHRASE = "alice passphrase 42"
PROJECT_ID = "team_alpha"
OTHER_PROJECT_ID = "team_beta"


# --------------------------------------------------------------------------- data


def idx_bytes(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    return (
        bytes([0, 0, 0x08, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.tobytes()
    )


def mnist_subset(kind: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` images and labels of the real MNIST ``train``/``t10k`` files, or synthetic."""
    images = MNIST_DIR / f"{kind}-images-idx3-ubyte.gz"
    labels = MNIST_DIR / f"{kind}-labels-idx1-ubyte.gz"
    if images.is_file() and labels.is_file():
        x = np.frombuffer(gzip.decompress(images.read_bytes()), np.uint8, offset=16)
        y = np.frombuffer(gzip.decompress(labels.read_bytes()), np.uint8, offset=8)
        return x.reshape(-1, 28, 28)[:rows], y[:rows]
    # Synthetic digits: the bright block's position is the class.
    rng = np.random.default_rng(0 if kind == "train" else 1)
    y = rng.integers(0, 10, rows).astype(np.uint8)
    x = rng.integers(0, 40, (rows, 28, 28)).astype(np.uint8)
    for i, label in enumerate(y):
        r, c = divmod(int(label), 5)
        x[i, r * 14 : r * 14 + 14, c * 5 : c * 5 + 5] += 200
    return x, y


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dashboard-data")
    out: dict[str, Path] = {}
    for kind, rows in (("train", TRAIN_ROWS), ("t10k", TEST_ROWS)):
        x, y = mnist_subset(kind, rows)
        out[f"{kind}_images"] = folder / f"{kind}-images.idx"
        out[f"{kind}_labels"] = folder / f"{kind}-labels.idx.gz"
        out[f"{kind}_images"].write_bytes(idx_bytes(x))
        out[f"{kind}_labels"].write_bytes(gzip.compress(idx_bytes(y)))
    rng = np.random.default_rng(7)
    lines = ["x1,x2,sum"]
    for a, b in rng.uniform(-1, 1, (40, 2)):
        lines.append(f"{a:.4f},{b:.4f},{a + b:.4f}")
    out["csv"] = folder / "small.csv"
    out["csv"].write_text("\n".join(lines) + "\n")
    return out


# --------------------------------------------------------------------------- helpers


class Ui:
    """A logged-in page plus the problem recorder and screenshots."""

    def __init__(self, page: Any, server: DashboardServer, shots: Shots) -> None:
        self.page = page
        self.server = server
        self.shots = shots
        self.problems = Problems()
        self.problems.watch(page)
        page.set_default_timeout(TIMEOUT_MS)

    def check(self, where: str) -> None:
        assert not self.problems.items, f"browser problems ({where}):\n" + "\n".join(
            self.problems.items
        )

    def go(self, route: str) -> None:
        self.page.click(f".nav-link[data-nav='{route}']")
        self.page.wait_for_function(
            "r => location.hash === '#/' + r || location.hash.startsWith('#/' + r + '/')", arg=route
        )
        self.page.wait_for_selector(".page")

    def login(self, user: str, passphrase: str) -> None:
        self.page.goto(self.server.url + "/")
        self.page.fill("#login-id", user)
        self.page.fill("#login-passphrase", passphrase)
        self.page.click("#login-submit")
        self.page.wait_for_selector(".nav-link")

    def toast(self, text: str) -> None:
        self.page.locator(".toast", has_text=text).first.wait_for()

    def select_by_text(self, selector: str, prefix: str) -> str:
        """Pick the option of ``selector`` whose text starts with ``prefix``; return its value."""
        locator = self.page.locator(selector)
        locator.wait_for()
        value = locator.evaluate(
            "(el, p) => { const o = [...el.options].find(o => o.text.startsWith(p));"
            " return o ? o.value : null; }",
            prefix,
        )
        assert value, f"no option starting with {prefix!r} in {selector}"
        locator.select_option(value)
        return value

    def wait_task(self, state: str = "finished") -> None:
        self.page.wait_for_selector(
            f"#task-state .badge:text-is('{state}')", timeout=TASK_TIMEOUT_MS
        )


def no_horizontal_scroll(page: Any) -> bool:
    return page.evaluate("() => document.scrollingElement.scrollWidth <= window.innerWidth + 1")


def upload(ui: Ui, name: str, kind: str, first: Path, labels: Path | None = None) -> None:
    page = ui.page
    page.click(f"#upload-{kind}")
    page.fill("#dataset-name", name)
    page.set_input_files("#dataset-file", str(first))
    if labels is not None:
        page.set_input_files("#dataset-labels", str(labels))
    page.click("#dataset-upload")
    ui.toast(f"Dataset '{name}' uploaded")
    page.wait_for_selector(f"tr[data-dataset='{name}']")


# --------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    return Shots(tmp_path_factory.mktemp("dashboard-screenshots"))


def test_full_workflow(
    chromium: Any, dashboard_server: DashboardServer, files: dict[str, Path], shots: Shots
) -> None:
    context = chromium.new_context(viewport=DESKTOP)
    ui = Ui(context.new_page(), dashboard_server, shots)
    page = ui.page
    try:
        # ---- log in
        page.goto(dashboard_server.url + "/")
        page.wait_for_selector("#login-id")
        shots.take(page, "login")
        ui.login(dashboard_server.admin_id, dashboard_server.admin_passphrase)
        assert page.locator("#project-switch").input_value() == "admin"
        ui.check("login")

        # ---- datasets: CSV and MNIST uploads, preview
        ui.go("datasets")
        upload(ui, "small_csv", "csv", files["csv"])
        upload(ui, "mnist_train", "mnist", files["train_images"], files["train_labels"])
        upload(ui, "mnist_test", "mnist", files["t10k_images"], files["t10k_labels"])
        assert "Done: 500 rows" in page.inner_text("#upload-progress")
        shots.take(page, "datasets")
        page.click("tr[data-dataset='small_csv'] a.strong")
        page.wait_for_selector("#dataset-preview table")
        assert page.locator("#dataset-preview tbody tr").count() == 10
        ui.go("datasets")
        page.click("tr[data-dataset='mnist_train'] a.strong")
        page.wait_for_selector("#dataset-preview canvas.picture")
        assert "3,000" in page.inner_text(".stats") or "500" in page.inner_text(".stats")
        shots.take(page, "dataset-preview")
        ui.check("datasets")

        # ---- clusters: the template editor validates as you type, then create
        ui.go("clusters")
        page.fill("#template-text", BROKEN_TEMPLATE)
        page.wait_for_selector("#template-status.is-error")
        status = page.inner_text("#template-status")
        assert "Line 6, column 14" in status and "not a listed hexagon" in status, status
        assert page.locator(".editor-gutter .is-error").inner_text() == "6"
        page.fill("#cluster-name", "mnist_cluster")
        assert page.locator("#cluster-create").is_disabled()
        shots.take(page, "cluster-editor-error", full_page=False)
        page.click("text=Load example")
        page.wait_for_selector("#template-status.is-ok")
        page.wait_for_selector("#template-preview svg .hx-input")
        assert page.locator("#template-preview svg .hx").count() == 3
        assert page.locator("#template-preview svg .hx-axon").count() == 1
        shots.take(page, "cluster-editor")
        page.click("#cluster-create")
        ui.toast("Cluster 'mnist_cluster' created")
        page.click("tr[data-cluster='mnist_cluster'] a.strong")
        page.wait_for_selector("#cluster-stats")
        assert page.locator(".hexview .hx").count() == 3
        ui.check("clusters")

        # ---- train with live progress
        page.click("text=Tasks & training")
        page.wait_for_selector("#task-submit")
        ui.select_by_text(".ds-select[data-hexagon='picture_hex']", "mnist_train")
        page.wait_for_function(
            "() => document.querySelector(\".col-select[data-hexagon='label_hex']\").value"
            " === 'label'"
        )
        assert page.locator(".col-select[data-hexagon='picture_hex']").input_value() == "picture"
        page.fill("#task-name", "train_mnist")
        page.fill("#task-epochs", str(EPOCHS))
        page.click("#task-submit")
        page.wait_for_selector("#task-progress .progress")
        # progress moves while the task runs
        page.wait_for_function(
            "() => { const t = document.querySelector('#task-progress').innerText;"
            " const m = t.match(/^([\\d,]+) \\//); return m && m[1] !== '0'; }",
            timeout=TASK_TIMEOUT_MS,
        )
        ui.wait_task("finished")
        page.wait_for_timeout(300)
        done = f"{TRAIN_ROWS * EPOCHS:,}"
        assert f"{done} / {done}" in page.inner_text("#task-progress")
        for chart in ("chart-progress", "chart-rate", "chart-learning", "chart-growth"):
            assert page.locator(f"#{chart} canvas").count() == 1
        points = int(page.get_attribute("#chart-progress .chart", "data-points") or 0)
        assert points >= 3, points  # several polls while it ran
        learned = int(page.get_attribute("#chart-learning .chart", "data-points") or 0)
        assert learned >= 1, learned  # the training accuracy curve got data
        assert "Accuracy while learning" in page.inner_text(".stats")
        shots.take(page, "training")
        ui.check("training")

        # ---- request, results chart, accuracy and confusion matrix
        page.click("text=← All tasks")
        page.wait_for_selector("#tab-request")
        page.click("#tab-request")
        ui.select_by_text(".ds-select[data-hexagon='picture_hex']", "mnist_test")
        page.wait_for_function(
            "() => !document.querySelector(\".col-select[data-hexagon='picture_hex']\").disabled"
        )
        page.fill("#task-name", "request_mnist")
        page.click("#task-submit")
        ui.wait_task("finished")
        page.click("#open-results")
        page.wait_for_selector("#accuracy")
        accuracy = float(page.inner_text("#accuracy").split()[0])
        assert 0.0 <= accuracy <= 100.0
        page.wait_for_selector(".confusion-table")
        cells = page.locator(".confusion-table tbody td").all_inner_texts()
        assert len(cells) == 100
        assert sum(int(c) for c in cells if c.isdigit()) == TEST_ROWS
        page.wait_for_selector("#result-chart canvas")
        shots.take(page, "results")
        ui.check("results")

        # ---- checkpoints: save and restore
        ui.go("clusters")
        page.click("tr[data-cluster='mnist_cluster'] a.strong")
        page.fill("#checkpoint-name", "after_training")
        page.click("#checkpoint-save")
        ui.toast("Checkpoint 'after_training' saved")
        page.wait_for_function(
            "() => document.querySelector('#checkpoint-select').options.length === 1"
        )
        page.click("#checkpoint-restore")
        page.click("[data-confirm='yes']")
        ui.toast("Checkpoint 'after_training' restored")
        samples = page.locator("#cluster-stats .stat", has_text="Samples trained")
        assert f"{TRAIN_ROWS * EPOCHS:,}" in samples.inner_text()
        shots.take(page, "cluster")
        ui.go("checkpoints")
        page.wait_for_selector("tr[data-checkpoint='after_training']")
        ui.check("checkpoints")
        ui.go("clusters")
        page.click("tr[data-cluster='mnist_cluster'] a.strong")

        # ---- cancel a running task
        page.click("text=Tasks & training")
        ui.select_by_text(".ds-select[data-hexagon='picture_hex']", "mnist_train")
        page.wait_for_function(
            "() => document.querySelector(\".col-select[data-hexagon='label_hex']\").value"
            " === 'label'"
        )
        page.fill("#task-name", "train_long")
        page.fill("#task-epochs", "1000")
        page.click("#task-submit")
        ui.wait_task("active")
        page.click("#task-cancel")
        page.click("[data-confirm='yes']")
        ui.toast("Task 'train_long' cancelled")
        ui.wait_task("aborted")
        assert page.inner_text("#task-cancel") == "Delete task"
        ui.check("cancel")

        # ---- system page
        ui.go("system")
        page.wait_for_selector("#chart-load canvas")
        page.wait_for_function("() => document.querySelectorAll('#cpu-bars .cpu-bar').length > 0")
        page.wait_for_timeout(2500)  # a second load sample
        shots.take(page, "system")
        ui.check("system")

        # ---- admin: project, user with a role, API token, audit log
        ui.go("admin/projects")
        for project_id, name in ((PROJECT_ID, "Team Alpha"), (OTHER_PROJECT_ID, "Team Beta")):
            page.fill("#project-id", project_id)
            page.fill("#project-name", name)
            page.click("#project-create")
            page.wait_for_selector(f"tr[data-project='{project_id}']")
        ui.go("admin/users")
        page.fill("#user-id", MEMBER_ID)
        page.fill("#user-name", "Alice Example")
        page.fill("#user-passphrase", MEMBER_PASSPHRASE)
        page.fill("#user-passphrase2", MEMBER_PASSPHRASE)
        page.locator("#user-project").select_option(PROJECT_ID)
        page.click("#user-create")
        ui.toast(f"User '{MEMBER_ID}' created")
        row = page.locator(f"tr[data-user='{MEMBER_ID}']")
        row.locator(".chip", has_text=f"{PROJECT_ID} · member").wait_for()
        row.locator("button", has_text="Assign project").click()
        page.locator("#assign-project").select_option(OTHER_PROJECT_ID)
        page.click("#assign-confirm")
        ui.toast(f"Project '{OTHER_PROJECT_ID}' assigned to '{MEMBER_ID}'")
        row.locator(".chip", has_text=f"{OTHER_PROJECT_ID} · member").wait_for()
        shots.take(page, "users")
        ui.go("admin/errors")
        page.wait_for_selector("text=Error log")
        ui.go("tokens")
        page.fill("#token-name", "ci_pipeline")
        page.click("#token-create")
        page.wait_for_selector("#token-secret")
        assert page.inner_text("#token-secret").startswith("hnm_")
        page.wait_for_selector("tr[data-token='ci_pipeline']")
        ui.go("audit")
        page.wait_for_selector("#audit-list table")
        assert "v1.0alpha/cluster" in page.inner_text("#audit-list")
        shots.take(page, "audit")
        ui.check("admin pages")
        page.click("#logout")
        page.wait_for_selector("#login-id")
        ui.check("logout")
    finally:
        context.close()

    # ---- the new user sees only their own project
    context = chromium.new_context(viewport=DESKTOP)
    member = Ui(context.new_page(), dashboard_server, shots)
    try:
        member.login(MEMBER_ID, MEMBER_PASSPHRASE)
        page = member.page
        page.wait_for_selector(".page")
        assert page.locator("#project-switch").input_value() == PROJECT_ID
        options = page.locator("#project-switch option").all_inner_texts()
        assert options == [f"{PROJECT_ID} · member", f"{OTHER_PROJECT_ID} · member"], options
        assert page.locator(".nav-link[data-nav='admin/users']").count() == 0
        assert "No clusters yet" in page.inner_text(".page")
        assert page.locator("tr[data-cluster='mnist_cluster']").count() == 0
        shots.take(page, "member-clusters")
        member.go("datasets")
        assert page.locator("tr[data-dataset]").count() == 0
        member.go("checkpoints")
        assert "No checkpoints yet" in page.inner_text(".page")
        # switching the project gets a new token for it
        page.locator("#project-switch").select_option(OTHER_PROJECT_ID)
        member.toast(f"Switched to project '{OTHER_PROJECT_ID}'")
        assert page.locator("#project-switch").input_value() == OTHER_PROJECT_ID
        # an admin-only page is not offered
        page.goto(dashboard_server.url + "/#/admin/users")
        page.wait_for_selector("text=Page not found")
        member.check("member")
    finally:
        context.close()

    published = shots.publish("training", "results")
    assert all(p.is_file() for p in published)


def test_phone_layout(chromium: Any, dashboard_server: DashboardServer, shots: Shots) -> None:
    """At phone width the navigation folds away, tables become cards, nothing scrolls sideways."""
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                   has_touch=True)  # fmt: skip
    ui = Ui(context.new_page(), dashboard_server, shots)
    page = ui.page
    try:
        ui.login(dashboard_server.admin_id, dashboard_server.admin_passphrase)
        assert not page.locator("#sidebar").is_visible() or page.evaluate(
            "() => document.querySelector('#sidebar').getBoundingClientRect().right <= 0"
        )
        page.click(".menu-btn")
        page.wait_for_function(
            "() => document.querySelector('#sidebar').getBoundingClientRect().left >= 0"
        )
        shots.take(page, "phone-menu", full_page=False)
        page.click(".nav-link[data-nav='datasets']")
        page.wait_for_selector("tr[data-dataset]")
        page.wait_for_function(
            "() => document.querySelector('#sidebar').getBoundingClientRect().right <= 0"
        )
        for route in ("clusters", "datasets", "checkpoints", "system", "admin/users"):
            page.goto(f"{dashboard_server.url}/#/{route}")
            page.wait_for_selector(".page")
            page.wait_for_timeout(300)
            assert no_horizontal_scroll(page), f"#/{route} scrolls sideways at phone width"
        page.goto(f"{dashboard_server.url}/#/clusters")
        page.wait_for_selector("tr[data-cluster]")
        cluster = page.get_attribute("tr[data-cluster] a.strong", "href")
        assert cluster and re.match(r"#/clusters/[0-9a-f-]{36}$", cluster)
        page.goto(f"{dashboard_server.url}/{cluster.replace('clusters', 'tasks')}")
        page.wait_for_selector("tr[data-task='train_mnist']")
        assert no_horizontal_scroll(page)
        shots.take(page, "phone-tasks")
        page.click("tr[data-task='request_mnist'] a:text-is('Results')")
        page.wait_for_selector("#result-chart canvas")
        # a new browser does not remember the request's input: pick the reference by hand
        ui.select_by_text("#reference-dataset", "mnist_test")
        page.wait_for_function("() => !document.querySelector('#reference-column').disabled")
        page.click("#evaluate")
        page.wait_for_selector(".confusion-table")
        assert no_horizontal_scroll(page)
        shots.take(page, "phone-results")
        page.go_back()
        page.click("tr[data-task='train_mnist'] a.strong")
        page.wait_for_selector("#chart-growth canvas")
        assert no_horizontal_scroll(page)
        ui.check("phone")
    finally:
        context.close()
    shots.publish("phone-tasks")
