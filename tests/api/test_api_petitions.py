"""The petition-agency API: items and visits written row by row (accepted / rejected with a reason,
audited), agents' KPIs and duties read back, rights enforced; on both backends through the store layer."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.api_testdata import PASSWORDS, city_gpkg, make_client, sign_in


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    store, city = city_gpkg(tmp_path_factory.mktemp("api_petitions") / "city.gpkg")
    store.write(
        "workers",
        pd.DataFrame(
            [
                {
                    "worker_id": "DB01",
                    "name": "代办甲",
                    "role": "agent",
                    "village_code": "150502001001",
                    "township_code": "150502001",
                    "active": 1,
                    "source": "test",
                }
            ]
        ),
    )
    client = make_client(store)
    headers = {u: sign_in(client, u) for u in PASSWORDS}
    yield store, client, headers
    client.close()
    store.close()


def test_write_items_and_visits_then_read_kpis(env):
    store, client, headers = env
    body = {
        "items": [
            {
                "item_id": "I1",
                "agent_id": "DB01",
                "case_id": "C0002",
                "taken_at": "2024-03-01 09:00",
                "done_at": "2024-03-20T10:00:00",
            },
            {"item_id": "I2", "agent_id": "DB01", "taken_at": "2024-03-05"},
            {"item_id": "I3", "agent_id": "W1", "taken_at": "2024-03-05"},  # a grid worker, not an agent
            {"item_id": "I4", "agent_id": "DB01", "case_id": "C0001", "taken_at": "2024-03-05"},  # a dispute
            {"item_id": "I5", "agent_id": "DB01", "taken_at": "2024-03-05", "done_at": "2024-03-01"},
            {"item_id": "I6", "agent_id": "DB01", "taken_at": "5 March"},
        ]
    }
    assert client.post("/api/v1/petition-items", json=body, headers=headers["commander"]).status_code == 403
    r = client.post("/api/v1/petition-items", json=body, headers=headers["supervisor"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (2, 4)
    reasons = {row["id"]: row["reason"] for row in out["rejected_rows"]}
    assert "not a petition agent" in reasons["I3"] and "not a petition" in reasons["I4"]
    assert "before taken_at" in reasons["I5"] and "ISO" in reasons["I6"]
    items = store.read("petition_items").set_index("item_id")
    assert items.loc["I1", "status"] == "done" and items.loc["I2", "status"] == "open"
    assert items.loc["I2", "deadline_at"] == "2024-05-04T00:00:00"  # 60 days (settings)
    assert (
        items.loc["I1", "village_code"] == "150502001001"
        and items.loc["I1", "taken_at"] == "2024-03-01T09:00:00"
    )

    visits = [
        {
            "visit_id": "H1",
            "visited_at": "2024-03-22T10:00:00",
            "visitor_id": "DB01",
            "method": "phone",
            "satisfaction": 5,
        },
        {"visit_id": "H2", "visited_at": "2024-03-23", "method": "fax"},
    ]
    r = client.post("/api/v1/petition-items/I1/visits", json=visits, headers=headers["admin"]).json()
    assert r["accepted"] == 1 and "method" in r["rejected_rows"][0]["reason"]
    r = client.post("/api/v1/petition-items/NOPE/visits", json=visits[:1], headers=headers["admin"]).json()
    assert r["accepted"] == 0 and "not a petition item" in r["rejected_rows"][0]["reason"]
    log = store.read("audit_log")
    assert (log["action"] == "petition_items.write").any() and not log.astype(str).apply(
        lambda c: c.str.contains("代办甲")
    ).any().any()

    kpi = client.get(
        "/api/v1/agents/kpi", params={"level": "agent", "period": "2024"}, headers=headers["admin"]
    )
    assert kpi.status_code == 200, kpi.text
    row = kpi.json()["rows"][0]
    assert (row["unit_code"], row["items_taken"], row["items_done"], row["followed_up"]) == ("DB01", 2, 1, 1)
    assert row["petitions_persons"] == 2 and row["mean_visit_satisfaction"] == 5
    # counts under 3 are suppressed for roles without full case access
    planner = client.get(
        "/api/v1/agents/kpi", params={"level": "city", "period": "2024"}, headers=headers["planner"]
    ).json()["rows"][0]
    assert planner["items_taken"] is None and planner["done_rate"] is None
    assert (
        client.get(
            "/api/v1/agents/kpi", params={"level": "grid", "period": "2024"}, headers=headers["admin"]
        ).status_code
        == 400
    )
    duty = client.get(
        "/api/v1/agents/duty", params={"period": "2024-05"}, headers=headers["supervisor"]
    ).json()
    agent = duty["agents"][0]
    assert agent["worker_id"] == "DB01" and agent["longest_gap_days"] == 31 and agent["items_overdue"] == 1
    listed = client.get(
        "/api/v1/petition-items", params={"agent": "DB01"}, headers=headers["supervisor"]
    ).json()
    assert [i["item_id"] for i in listed] == ["I1", "I2"]
