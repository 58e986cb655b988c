"""All runtime settings in one place (environment variables prefixed ``GRIDMAP_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """gridmap settings.

    ``database_url`` selects the store: empty → the embedded GeoPackage at ``gpkg_path``;
    ``postgresql://…`` → PostGIS.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDMAP_", env_file=".env", extra="ignore")

    database_url: str = ""
    gpkg_path: Path = REPO_ROOT / "var" / "gridmap.gpkg"
    data_dir: Path = REPO_ROOT / "data"
    web_dir: Path = REPO_ROOT / "web"

    # demo build
    demo_seed: int = 7
    demo_scale: float = 1.0
    demo_h3_resolution: int = 8

    # planning defaults (households per grid)
    grid_target_households: int = 400
    grid_min_households: int = 300
    grid_max_households: int = 500
    grid_tolerance: float = 0.10

    # batch work on dask.distributed (gridmap.distributed): empty scheduler → a LocalCluster here
    dask_scheduler: str = ""  # e.g. tcp://10.0.0.5:8786
    dask_workers: int = 2  # LocalCluster worker processes (one thread each)

    # hotspots
    fdr_alpha: float = 0.05

    # coverage audit defaults
    audit_max_days_unvisited: int = 7
    audit_max_grids_per_worker: int = 3
    audit_max_households_per_worker: int = 1500
    audit_max_open_cases_per_worker: int = 30
    audit_reach_distance_m: float = 150.0
    audit_min_reach_share: float = 0.8
    audit_max_outside_share: float = 0.1
    audit_required_visit_every_days: int = 1
    audit_worker_roles: tuple[str, ...] = ("full_time",)

    # privacy
    suppress_counts_below: int = 3

    # intake
    max_upload_bytes: int = 50 * 1024 * 1024
    city_margin_km: float = 20.0

    # web
    basemap_url: str = ""
    basemap_crs: str = "wgs84"  # wgs84 | gcj02
    basemap_attribution: str = ""
    token_ttl_hours: int = 12
    secret_key: str = "change-me-in-production"


@lru_cache
def get_settings() -> Settings:
    return Settings()
