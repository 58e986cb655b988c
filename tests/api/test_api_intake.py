"""Import through the API (multipart upload, small files at once, large ones as a job) and the
review queue with its actions — on both store backends."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from gridmap.users import create_user
from tests import geocode_testdata as td
from tests.api_testdata import make_client

HEADER = [
    "案件编号",
    "地址",
    "经度",
    "纬度",
    "坐标系",
    "类型",
    "类别",
    "状态",
    "登记时间",
    "当事人",
    "电话",
    "身份证号",
]
ROWS = [
    [
        "B-1",
        "科尔沁区科尔沁街道民航社区建国路18号1栋",
        "",
        "",
        "",
        "矛盾纠纷",
        "邻里",
        "已受理",
        "2024-03-05 14:30",
        "张三丰",
        "13812345678",
        "150502199001011234",
    ],
    [
        "B-2",
        "科尔沁区科尔沁街道民航社区建国路132号1栋",
        "",
        "",
        "",
        "dispute",
        "land",
        "reported",
        "2024-03-07",
        "李四光",
        "13987654321",
        "",
    ],
    ["B-3", "", "", "", "", "矛盾纠纷", "", "", "2024-03-09", "", "", ""],
]
CSV = pd.DataFrame(ROWS, columns=HEADER).to_csv(index=False).encode("utf-8")


def _client(store):
    td.fill_store(store)
    create_user(store, "clerk", "clerk-pass-1", "admin", replace=True)
    create_user(store, "boss", "boss-pass-1", "commander", replace=True)
    c = make_client(store)
    c.headers["Authorization"] = (
        "Bearer "
        + c.post("/api/v1/auth/token", data={"username": "clerk", "password": "clerk-pass-1"}).json()[
            "access_token"
        ]
    )
    return c


@pytest.fixture
def client(store):
    """On each backend: the import itself and the review queue touch the store everywhere."""
    c = _client(store)
    yield c
    c.app.state.jobs.shutdown()
    c.close()


@pytest.fixture
def gpkg_client(gpkg_store):
    """Rights and the job hand-off do not depend on the backend: one is enough."""
    c = _client(gpkg_store)
    yield c
    c.app.state.jobs.shutdown()
    c.close()


def test_import_review_and_resolve(client, store):
    r = client.post("/api/v1/imports", files={"file": ("cases.csv", CSV, "text/csv")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["accepted"], report["review"], report["rejected"]) == (3, 1, 1, 1)
    audit = store.read("audit_log", where={"action": "cases.import"})
    assert audit["object_id"].tolist() == ["cases.csv"]
    queue = client.get("/api/v1/review").json()
    assert queue["total"] == 1 and queue["items"][0]["external_id"] == "B-2"
    assert "李四光" not in str(queue) and "13987654321" not in str(queue)
    case_id = queue["items"][0]["case_id"]
    target = td.address_id("科尔沁区西门街道建国社区建国路132号1栋")
    done = client.post(f"/api/v1/review/{case_id}", json={"action": "pick", "address_id": target}).json()
    assert done["geocode_status"] == "manual" and done["grid_code"].startswith("150502002001")
    assert client.get("/api/v1/review").json()["total"] == 0
    bad = client.post(f"/api/v1/review/{case_id}", json={"action": "place", "lon": 116.4, "lat": 39.9})
    assert bad.status_code == 400 and "cannot place" in bad.json()["detail"]
    assert store.read("audit_log", where={"action": "review.pick"})["object_id"].tolist() == [case_id]


def test_import_needs_the_intake_right(gpkg_client):
    client = gpkg_client
    token = client.post("/api/v1/auth/token", data={"username": "boss", "password": "boss-pass-1"}).json()
    headers = {"Authorization": "Bearer " + token["access_token"]}
    assert (
        client.post(
            "/api/v1/imports", files={"file": ("c.csv", CSV, "text/csv")}, headers=headers
        ).status_code
        == 403
    )
    assert client.get("/api/v1/review", headers=headers).status_code == 403


def test_large_import_runs_as_a_job(gpkg_client, monkeypatch):
    client = gpkg_client
    from api.routers import intake as intake_router

    monkeypatch.setattr(intake_router, "BACKGROUND_IMPORT_BYTES", 10)
    r = client.post("/api/v1/imports", files={"file": ("cases.csv", CSV, "text/csv")})
    assert r.status_code == 202
    href = r.json()["href"]
    deadline = time.time() + 30
    while (job := client.get(href).json())["state"] not in ("done", "failed") and time.time() < deadline:
        time.sleep(0.05)
    assert job["state"] == "done", job
    assert job["kind"] == "import" and job["result"]["rows"] == 3 and job["progress"] == 1.0


def test_repeated_imports_reuse_one_geocoding_context(gpkg_client, monkeypatch):
    """The memory growth of #13: the address index is built once per store state, not per upload."""
    from api import intake_context
    from gridmap.geocode import match

    built = []
    original = match.AddressMatcher.__init__

    def counting(self, *args, **kwargs):
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(match.AddressMatcher, "__init__", counting)
    monkeypatch.setitem(intake_context._CACHED, "key", None)
    for i in range(3):
        csv = CSV.replace(b"B-", f"R{i}-".encode())
        assert (
            gpkg_client.post("/api/v1/imports", files={"file": (f"c{i}.csv", csv, "text/csv")}).status_code
            == 200
        )
    assert len(built) == 1
    gpkg_client.app.state.store.write("addresses", td.addresses().iloc[:-1], mode="replace")
    gpkg_client.post("/api/v1/imports", files={"file": ("d.csv", CSV.replace(b"B-", b"D-"), "text/csv")})
    assert len(built) == 2  # the addresses changed: a new context


def test_import_of_another_kind_as_a_background_job(client, store):
    roster = (
        pd.DataFrame(
            {
                "工号": ["W1", "W2"],
                "姓名": ["王芳", "李强"],
                "专兼职": ["专职", "兼职"],
                "手机": ["13900000001", "13900000002"],
            }
        )
        .to_csv(index=False)
        .encode("gbk")
    )
    r = client.post(
        "/api/v1/imports?background=true",
        data={"kind": "workers"},
        files={"file": ("roster.csv", roster, "text/csv")},
    )
    assert r.status_code == 202
    href = r.json()["href"]
    deadline = time.time() + 30
    while (job := client.get(href).json())["state"] not in ("done", "failed") and time.time() < deadline:
        time.sleep(0.05)
    assert job["state"] == "done", job
    assert job["result"]["kind"] == "workers" and job["result"]["accepted"] == 2 and job["progress"] == 1.0
    assert set(pd.DataFrame(store.read("workers"))["role"]) == {"full_time", "part_time"}
    assert (
        client.post(
            "/api/v1/imports", data={"kind": "nonsense"}, files={"file": ("x.csv", roster, "text/csv")}
        ).status_code
        == 400
    )
