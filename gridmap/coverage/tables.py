"""Tables of petition agency (信访代办): items an agent takes on and their follow-up visits.

Neither table holds personal data: items point at a petition case (``case_id``) and an
agent (``agent_id`` = ``workers.worker_id`` with role ``agent``); visits name the visitor
by worker id.  Times are ISO local time like every table (``2022-03-05T09:00:00``).
"""

from __future__ import annotations

from gridmap.store.schema import Table, register

TEXT, INTEGER = "TEXT", "INTEGER"

#: item statuses: taken on (代办中) → done (办结)
ITEM_STATUSES = ("open", "done")
#: how a follow-up visit (回访) was made
VISIT_METHODS = ("phone", "in_person", "wechat")

PETITION_ITEMS = register(Table(
    "petition_items",
    {
        "item_id": TEXT, "case_id": TEXT, "agent_id": TEXT, "status": TEXT, "taken_at": TEXT, "deadline_at": TEXT,
        "done_at": TEXT, "village_code": TEXT, "township_code": TEXT, "county_code": TEXT, "source": TEXT,
    },
    primary_key=("item_id",),
    indexes=(("agent_id",), ("taken_at",), ("case_id",)),
    description="petition items taken on by an agent (信访代办): when taken, deadline, when done; "
                "codes are the agent's post",
))

PETITION_VISITS = register(Table(
    "petition_visits",
    {
        "visit_id": TEXT, "item_id": TEXT, "visited_at": TEXT, "visitor_id": TEXT, "method": TEXT,
        "satisfaction": INTEGER, "source": TEXT,
    },
    primary_key=("visit_id",),
    indexes=(("item_id",), ("visited_at",)),
    description="follow-up visits (回访) of petition items: date, by whom (worker id), how, satisfaction 1–5",
))
