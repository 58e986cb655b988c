"""OGC API – Features at /ogc: the documents, paging, HTML, and GDAL's OAPIF driver (ogrinfo)
reading a live uvicorn — what QGIS does."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.api_testdata import G1, G5, LiveServer, city_gpkg, make_client

OGRINFO = shutil.which("ogrinfo") or "/usr/bin/ogrinfo"
CONFORMANCE = {"core", "geojson", "html", "oas30"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    store, _ = city_gpkg(tmp_path_factory.mktemp("ogc") / "city.gpkg")
    client = make_client(store)
    yield store, client
    client.close()
    store.close()


def test_landing_conformance_and_collections(env):
    _, client = env
    landing = client.get("/ogc").json()
    rels = {link["rel"]: link for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    api_doc = client.get(rels["service-desc"]["href"])
    assert api_doc.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    assert api_doc.json()["openapi"].startswith("3.0")
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    assert {c.rsplit("/", 1)[-1] for c in classes} == CONFORMANCE
    collections = client.get("/ogc/collections").json()["collections"]
    ids = {c["id"] for c in collections}
    assert ids == {
        "admin-city",
        "admin-county",
        "admin-township",
        "admin-village",
        "grids",
        "hotspots-gi",
        "hotspots-emerging",
        "hotspots-kde",
        "coverage-findings",
    }
    for c in collections:
        items = [link for link in c["links"] if link["rel"] == "items"]
        assert any(link["type"] == "application/geo+json" for link in items)
        assert c["extent"]["spatial"]["bbox"][0][0] < c["extent"]["spatial"]["bbox"][0][2]


def test_items_paging_and_content_type(env):
    _, client = env
    r = client.get("/ogc/collections/grids/items", params={"limit": 2})
    assert r.headers["content-type"] == "application/geo+json"
    page = r.json()
    assert page["numberMatched"] == 5 and page["numberReturned"] == 2
    seen = [f["id"] for f in page["features"]]
    while nxt := next((link["href"] for link in page["links"] if link["rel"] == "next"), None):
        page = client.get(nxt).json()
        seen += [f["id"] for f in page["features"]]
        assert any(link["rel"] == "prev" for link in page["links"])
    assert len(seen) == len(set(seen)) == 5
    boxed = client.get("/ogc/collections/grids/items", params={"bbox": "122.01,43.51,122.1,43.6"}).json()
    assert [f["id"] for f in boxed["features"]] == [G1]
    one = client.get(f"/ogc/collections/grids/items/{G1}")
    assert one.headers["content-type"] == "application/geo+json"
    assert one.json()["id"] == G1 and one.json()["properties"]["households"] == 350


def test_html_representation_and_errors(env):
    _, client = env
    html = client.get("/ogc/collections/grids/items", params={"f": "html"})
    assert html.headers["content-type"].startswith("text/html") and G1 in html.text
    assert client.get("/ogc", headers={"Accept": "text/html"}).headers["content-type"].startswith("text/html")
    missing = client.get("/ogc/collections/people/items")
    assert missing.status_code == 404 and missing.json()["code"] == "NotFound"
    assert client.get("/ogc/collections/grids/items/nope").status_code == 404
    assert client.get("/ogc/collections/grids/items", params={"bbox": "a,b"}).status_code == 400
    assert client.get("/ogc/collections/grids/items", params={"f": "xml"}).status_code == 400


def test_findings_datetime_and_no_personal_columns(env):
    _, client = env
    november = client.get(
        "/ogc/collections/coverage-findings/items", params={"datetime": "2024-11-01/2024-11-30"}
    ).json()
    assert november["numberMatched"] > 0
    assert all(f["properties"]["period"] == "2024-11-01/2024-11-30" for f in november["features"])
    assert {f["properties"]["kind"] for f in november["features"]} <= {
        "no_active_worker",
        "not_visited_n_days",
        "patrol_does_not_reach",
    }
    assert "worker_id" not in november["features"][0]["properties"]
    hot = {
        f["id"]: f["properties"] for f in client.get("/ogc/collections/hotspots-gi/items").json()["features"]
    }
    assert hot[G5]["count"] is None and hot[G5]["suppressed"] is True


@pytest.mark.skipif(not shutil.which("ogrinfo"), reason="gdal-bin (ogrinfo) not installed: make system-deps")
def test_gdal_oapif_driver_reads_the_service(env):
    from api.main import create_app
    from gridmap.config import Settings

    store, _ = env
    app = create_app(Settings(), store=store)
    with LiveServer(app) as live:
        url = f"OAPIF:{live.url}/ogc"
        listing = subprocess.run([OGRINFO, "-ro", "-so", url], capture_output=True, text=True, timeout=60)
        assert listing.returncode == 0, listing.stderr
        layers = set(re.findall(r"^\d+: (\S+) ", listing.stdout, flags=re.M))
        assert {"grids", "admin-village", "hotspots-gi", "coverage-findings"} <= layers
        # page size 2 forces GDAL to follow the next links
        read = subprocess.run(
            [OGRINFO, "-ro", "-al", "-q", url, "grids", "-oo", "PAGE_SIZE=2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert read.returncode == 0, read.stderr
        assert read.stdout.count("OGRFeature(grids)") == 5
        assert f"code (String) = {G1}" in read.stdout
        assert "MULTIPOLYGON (((122.125 43.5" in read.stdout  # lon/lat, not swapped
        hot = subprocess.run(
            [OGRINFO, "-ro", "-al", "-q", url, "hotspots-gi", "-where", f"unit_id = '{G5}'"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "suppressed (Integer(Boolean)) = 1" in hot.stdout and "count (Integer) = (null)" in hot.stdout
    app.state.jobs.shutdown()
