"""Project quotas: stored bytes (413), datasets and clusters (409), uploads at once (429)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from cluster_helpers import TEMPLATE, template_b64
from dataset_helpers import multipart, new_member
from server_helpers import ADMIN_ID, ADMIN_NAME, ADMIN_PASSPHRASE, TOKEN_KEY, Api, Member, login
from server_process import server_env, serving

STORAGE = 1_000_000
QUOTAS = {
    "HANAMI_PROJECT_MAX_STORAGE_BYTES": str(STORAGE),
    "HANAMI_PROJECT_MAX_DATASETS": "5",
    "HANAMI_PROJECT_MAX_CLUSTERS": "2",
    "HANAMI_PROJECT_MAX_UPLOADS": "4",
}
CSV = b"a,b\n1,2\n3,4\n"


def _env(database_url: str | None = None) -> dict[str, str]:
    return server_env(
        admin_id=ADMIN_ID,
        admin_name=ADMIN_NAME,
        admin_passphrase=ADMIN_PASSPHRASE,
        token_key=TOKEN_KEY,
        database_url=database_url,
        extra=QUOTAS,
    )


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, httpx.Client]]:
    """A server with small quotas (SQLite) and its admin."""
    with (
        serving(tmp_path_factory.mktemp("quotas"), _env()) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        yield Api(http, login(http, ADMIN_ID, ADMIN_PASSPHRASE)), http


@pytest.fixture
def member(limited: tuple[Api, httpx.Client]) -> Member:
    return new_member(*limited)


def _csv_upload(api: Api, size: int) -> httpx.Response:
    return api.post("dataset/upload/csv", {"name": "csv upload", "input_data_size": size})


def test_declared_upload_sizes_must_fit_the_storage_quota(member: Member):
    body = {"name": "huge mnist", "input_data_size": 6 * 10**8, "label_data_size": 6 * 10**8}
    response = member.api.post("dataset/upload/mnist", body)
    assert response.status_code == 413
    assert response.text == (
        f"Storage quota of project '{member.project_id}' exceeded: 0 of {STORAGE} bytes used, "
        "1200000000 more requested"
    )
    assert _csv_upload(member.api, 600_000).status_code == 200
    assert _csv_upload(member.api, 600_000).status_code == 413  # 600,000 are taken
    assert _csv_upload(member.api, 400_000).status_code == 200
    big = multipart(member.api, "big csv", "csv", input_file=b"a\n" + b"1\n" * 50_000)
    assert big.status_code == 413  # its Content-Length does not fit either


def test_uploads_in_progress_are_limited(member: Member):
    uploads = [_csv_upload(member.api, 100) for _ in range(4)]
    assert [r.status_code for r in uploads] == [200] * 4
    response = _csv_upload(member.api, 100)
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    assert "4 uploads in progress" in response.text
    assert multipart(member.api, "small csv", "csv", input_file=CSV).status_code == 429
    assert member.api.delete("dataset", uuid=uploads[0].json()["uuid"]).status_code == 200
    assert _csv_upload(member.api, 100).status_code == 200


def test_datasets_per_project_are_limited(member: Member, limited):
    for n in range(5):
        assert multipart(member.api, f"csv {n}", "csv", input_file=CSV).status_code == 200
    response = multipart(member.api, "one too many", "csv", input_file=CSV)
    assert response.status_code == 409
    assert response.text == (
        f"Project '{member.project_id}' has reached its quota of 5 datasets; delete some first"
    )
    assert _csv_upload(member.api, 100).status_code == 409
    other = new_member(*limited)  # another project is not affected
    assert multipart(other.api, "other csv", "csv", input_file=CSV).status_code == 200


def test_clusters_per_project_are_limited(member: Member):
    body = {"template": template_b64(TEMPLATE)}
    for n in range(2):
        assert member.api.post("cluster", {**body, "name": f"cluster_{n}"}).status_code == 200
    response = member.api.post("cluster", {**body, "name": "cluster_2"})
    assert response.status_code == 409 and "quota of 2 clusters" in response.text
    assert len(member.api.get("cluster/all").json()["body"]) == 2


def test_concurrent_uploads_cannot_all_take_the_same_space(own_database_url, tmp_path: Path):
    with (
        serving(tmp_path, _env(own_database_url)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        member = new_member(Api(http, login(http, ADMIN_ID, ADMIN_PASSPHRASE)), http)
        with ThreadPoolExecutor(10) as pool:
            statuses = list(pool.map(lambda _: _csv_upload(member.api, 300_000).status_code,
                                     range(10)))  # fmt: skip
    assert sorted(statuses) == [200] * 3 + [413] * 7
