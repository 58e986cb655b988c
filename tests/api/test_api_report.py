"""`gridmap report`: a self-contained folium map — no external URL anywhere in the file —
and the `gridmap users` / `serve` command registration."""

from __future__ import annotations

import argparse
import json
import re

import pytest

from tests.api_testdata import G1, G5, city_gpkg


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s, _ = city_gpkg(tmp_path_factory.mktemp("report") / "city.gpkg")
    yield s
    s.close()


def _features(html: str) -> list[dict]:
    """Every GeoJSON feature folium embedded in the page."""
    decoder, out = json.JSONDecoder(), []
    for match in re.finditer(r'\{"features": \[', html):
        collection, _ = decoder.raw_decode(html, match.start())
        out += collection["features"]
    return out


def test_report_has_no_external_url(store, tmp_path):
    from gridmap.report import write_report

    path = write_report(store, tmp_path / "report.html")
    html = path.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    refs = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', html)
    assert refs and all(r.startswith("data:") for r in refs), refs
    assert html.count("data:text/javascript;base64,") == 1 and html.count("data:text/css;base64,") == 1
    assert "cdn.jsdelivr" not in html and "jquery" not in html.lower()


def test_report_layers_and_suppression(store, tmp_path):
    from gridmap.report import build_report

    html = build_report(store)
    features = _features(html)
    gi = {f["properties"]["unit_id"]: f["properties"] for f in features if "bin" in f["properties"]}
    assert gi[G1]["bin"] == 3 and gi[G1]["count"] >= 3 and gi[G1]["suppressed"] is False  # perturbed
    assert gi[G5]["count"] is None and gi[G5]["suppressed"] is True
    assert "hot-spot areas" in html and "grids (P1)" in html  # layer names (JS-escaped Chinese around them)
    assert "数量少于 3 的单元不显示案件数" in html


def test_cli_registers_report_serve_and_users(store, tmp_path, capsys):
    from api import cli as api_cli
    from gridmap import report_cli

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    api_cli.register(sub)
    report_cli.register(sub)
    args = parser.parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    args = parser.parse_args(["report", "--out", str(tmp_path / "r.html"), "--store", store.url])
    assert args.func(args) == 0 and (tmp_path / "r.html").stat().st_size > 10000
    args = parser.parse_args(["users", "add", "clerk", "--role", "commander", "--store", store.url])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    password = re.search(r"password: (\S+)", out).group(1)
    from api.auth import authenticate

    assert authenticate(store, "clerk", password).role == "commander"
    with pytest.raises(Exception, match="exists already"):
        args.func(args)
    args = parser.parse_args(["users", "add", "w9", "--role", "grid_worker", "--store", store.url])
    with pytest.raises(Exception, match="worker-id"):
        args.func(args)
    args = parser.parse_args(["users", "list", "--store", store.url])
    assert args.func(args) == 0 and "clerk" in capsys.readouterr().out


def test_demo_users_are_created_once_with_working_passwords(tmp_path):
    from api.auth import authenticate
    from gridmap.store import open_store
    from gridmap.users import ensure_demo_users
    from tests.api_testdata import build_city as build

    with open_store(tmp_path / "demo.gpkg") as s:
        build(s, with_users=False)
        lines = ensure_demo_users(s)
        assert len(lines) == 5 and all("(shown once)" in line for line in lines)
        passwords = {
            re.search(r"demo user (\S+)", line).group(1): re.search(r"password (\S+)", line).group(1)
            for line in lines
        }
        roles = {u: authenticate(s, u, p).role for u, p in passwords.items()}
        assert roles == {
            "admin": "admin",
            "commander": "commander",
            "planner": "planner",
            "supervisor": "supervisor",
            "worker": "grid_worker",
        }
        assert authenticate(s, "worker", passwords["worker"]).worker_id == "W1"  # the first assigned worker
        assert ensure_demo_users(s) == []  # never shown (or changed) again
