"""A bounded schemathesis run over the whole OpenAPI of the test city (all checks).

Every operation gets a few generated requests (schema-valid and invalid data); each response
must pass every schemathesis check: no server error, a documented status code and content
type, a body matching the documented schema, documented headers, invalid data rejected.
A few hundred calls in all, well under a minute.  Failures are collected per operation and
reported together.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from schemathesis.config import SchemathesisConfig  # noqa: E402

from api.main import create_app  # noqa: E402
from gridmap.config import Settings  # noqa: E402
from tests.api_testdata import city_gpkg  # noqa: E402

MAX_EXAMPLES = 6


def test_schemathesis_all_checks_on_every_operation(tmp_path):
    store, _city = city_gpkg(tmp_path / "city.gpkg")
    # no rate limit: the run is hundreds of calls from one address within seconds
    app = create_app(Settings(rate_limit_per_address=0, rate_limit_per_token=0), store=store)
    # schema-valid data may still be refused with 400 for what JSON Schema cannot say (a bbox whose
    # corners are swapped, a code of another city, a filter value that is not a category) or
    # 413 beyond a role's cap; every other check keeps its defaults
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "413", "429"]
                }
            }
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    failures: dict[str, str] = {}
    calls = 0
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate()

        try:
            run()
        except BaseException as exc:  # noqa: BLE001 - collected and reported below (groups included)
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures[operation.label] = (
                " | ".join(str(exc).splitlines()[:3])
                + " | "
                + " | ".join(str(e).splitlines()[0] for e in getattr(exc, "exceptions", [])[:4])
            )
    store.close()
    print(f"schemathesis: {operations} operations, {calls} calls, {len(failures)} failing")
    assert operations > 30 and calls >= operations
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())
