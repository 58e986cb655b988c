"""Runtime settings: one class per concern (tipg style), read from environment variables
prefixed ``GRIDMAP_`` (or a ``.env`` file), behind one cached accessor, :func:`get_settings`.

Every concern keeps the variable names it always had (``GRIDMAP_DATABASE_URL``,
``GRIDMAP_AUDIT_MAX_DAYS_UNVISITED`` …).  :class:`Settings` carries every field; one
concern is ``get_settings().store``, ``.api``, ``.audit`` … (a :class:`StoreSettings`,
:class:`ApiSettings`, … with the same values).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from gridmap.errors import InputError

REPO_ROOT = Path(__file__).resolve().parent.parent
#: the development secret; serving beyond this machine with it is refused (:meth:`ApiSettings.check_serving`)
DEFAULT_SECRET_KEY = "change-me-in-production"

_CONFIG = SettingsConfigDict(env_prefix="GRIDMAP_", env_file=".env", extra="ignore")


class StoreSettings(BaseSettings):
    """Where data lives.  ``database_url`` empty → the embedded GeoPackage at ``gpkg_path``;
    ``postgresql://…`` → PostGIS.  ``data_dir`` holds the real boundary files; ``gpkg_memory_mib``
    bounds the memory SQLite keeps for its page caches in one process."""

    model_config = _CONFIG

    database_url: str = ""
    gpkg_path: Path = REPO_ROOT / "var" / "gridmap.gpkg"
    gpkg_memory_mib: int = 128  # SQLite page caches of the whole process (0 = no limit)
    data_dir: Path = REPO_ROOT / "data"


class DemoSettings(BaseSettings):
    """``gridmap build-demo`` defaults: seed, scale (1 = the whole city) and H3 resolution of hotspot cells."""

    model_config = _CONFIG

    demo_seed: int = 7
    demo_scale: float = 1.0
    demo_h3_resolution: int = 8
    #: H3 resolution of the empty-land atoms of ``build-demo --area`` (Tongliao's demo keeps 8): atoms
    #: scale with land area, and 内蒙古's desert and grassland cities at resolution 8 (0.74 km²) give
    #: ~370k atoms for 264 villages (阿拉善盟); 7 (5.2 km²) gives 57k, ~4× faster, ~2.3× less memory
    demo_area_atom_resolution: int = 7


class PartitionSettings(BaseSettings):
    """Planning defaults: households per grid (target, band) and the tolerated deviation (fraction)."""

    model_config = _CONFIG

    grid_target_households: int = 400
    grid_min_households: int = 300
    grid_max_households: int = 500
    grid_tolerance: float = 0.10


class DistributedSettings(BaseSettings):
    """Batch work on dask.distributed (:mod:`gridmap.distributed`): ``dask_scheduler`` empty → a
    LocalCluster of ``dask_workers`` single-threaded worker processes here; ``tcp://host:8786`` → that
    scheduler (a deployment adds machines by starting workers against it)."""

    model_config = _CONFIG

    dask_scheduler: str = ""
    dask_workers: int = 2


class HotspotSettings(BaseSettings):
    """Hot-spot analysis: the false-discovery rate at which units are called hot or cold."""

    model_config = _CONFIG

    fdr_alpha: float = 0.05


class AuditSettings(BaseSettings):
    """Coverage-audit thresholds (days, grids, households, cases, metres, shares 0–1)."""

    model_config = _CONFIG

    audit_max_days_unvisited: int = 7
    audit_max_grids_per_worker: int = 3
    audit_max_households_per_worker: int = 1500
    audit_max_open_cases_per_worker: int = 30
    audit_reach_distance_m: float = 150.0
    audit_min_reach_share: float = 0.8
    audit_max_outside_share: float = 0.1
    audit_required_visit_every_days: int = 1
    audit_worker_roles: tuple[str, ...] = ("full_time",)
    # petition agents (信访代办): daily patrol, follow-up visit, item deadline
    audit_agent_max_days_without_patrol: int = 3
    audit_followup_within_days: int = 15
    petition_item_deadline_days: int = 60


class IntakeSettings(BaseSettings):
    """Imports: the largest accepted file (bytes) and how far outside the city a point may lie (km)."""

    model_config = _CONFIG

    max_upload_bytes: int = 50 * 1024 * 1024
    city_margin_km: float = 20.0


class PrivacySettings(BaseSettings):
    """Counts for roles without all-case access (:mod:`gridmap.disclosure`): under
    ``suppress_counts_below`` hidden, the others perturbed with cell-key noise of decay
    ``disclosure_noise_decay`` (0 < q < 1; larger = noisier)."""

    model_config = _CONFIG

    suppress_counts_below: int = 3
    disclosure_noise_decay: float = 0.5


class LimitsSettings(BaseSettings):
    """Bounded cost per request (:mod:`api.limits`): rate limits (requests/s; 0 = off), the bucket
    size, the largest collection (features) and anonymous answer (bytes), requests built at once."""

    model_config = _CONFIG

    rate_limit_per_address: float = 30.0
    rate_limit_per_token: float = 60.0
    rate_limit_burst: int = 300
    max_features_anonymous: int = 5_000
    max_features_signed_in: int = 200_000
    max_response_bytes_anonymous: int = 5 * 1024 * 1024
    max_concurrent_requests: int = 4
    #: seconds without a request before every in-process cache is emptied (0 = never)
    idle_release_s: float = 60.0


class TilesSettings(BaseSettings):
    """The optional base map: an intranet tile server URL, its CRS (``wgs84`` | ``gcj02``) and attribution,
    or an intranet 天地图 WMTS (``tianditu_*``, matrix set ``c`` or ``w``: web/basemap.js)."""

    model_config = _CONFIG

    basemap_url: str = ""
    basemap_crs: str = "wgs84"
    basemap_attribution: str = ""
    # intranet 天地图 (Tianditu) WMTS: service root (…/{layer}_{set}/wmts is appended; {s} → t0…t7),
    # browser key (tk), tile matrix set c (EPSG:4490 lon/lat) or w (Web Mercator), layers drawn
    tianditu_url: str = ""
    tianditu_key: str = ""
    tianditu_matrix_set: str = "c"  # c | w
    tianditu_layers: str = "vec,cva"  # vec (roads) / img (imagery) / ter, with cva / cia / cta labels


class ApiSettings(BaseSettings):
    """The web API: static page directory, token lifetime (hours) and the token-signing secret."""

    model_config = _CONFIG

    web_dir: Path = REPO_ROOT / "web"
    token_ttl_hours: int = 12
    secret_key: str = DEFAULT_SECRET_KEY

    def check_serving(self, host: str) -> None:
        """Refuse (InputError, one line) to listen beyond loopback while the secret key is the default."""
        if self.secret_key == DEFAULT_SECRET_KEY and not is_loopback(host):
            raise InputError(
                f"refusing to serve on {host} with the default secret key: "
                "set GRIDMAP_SECRET_KEY to a long random value (or serve on 127.0.0.1)"
            )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Settings(
    StoreSettings,
    DemoSettings,
    PartitionSettings,
    DistributedSettings,
    HotspotSettings,
    AuditSettings,
    IntakeSettings,
    PrivacySettings,
    LimitsSettings,
    TilesSettings,
    ApiSettings,
):
    """Every concern's fields in one object (same variables), for code that passes settings along
    (``create_app(Settings(...))``, tests); ``settings.audit`` etc. give one concern."""

    model_config = _CONFIG

    def _concern(self, cls: type[BaseSettings]) -> BaseSettings:
        # the values this object holds (overrides included), not a fresh read of the environment
        return cls.model_construct(**{name: getattr(self, name) for name in cls.model_fields})

    @property
    def store(self) -> StoreSettings:
        return self._concern(StoreSettings)

    @property
    def demo(self) -> DemoSettings:
        return self._concern(DemoSettings)

    @property
    def partition(self) -> PartitionSettings:
        return self._concern(PartitionSettings)

    @property
    def distributed(self) -> DistributedSettings:
        return self._concern(DistributedSettings)

    @property
    def hotspots(self) -> HotspotSettings:
        return self._concern(HotspotSettings)

    @property
    def audit(self) -> AuditSettings:
        return self._concern(AuditSettings)

    @property
    def intake(self) -> IntakeSettings:
        return self._concern(IntakeSettings)

    @property
    def privacy(self) -> PrivacySettings:
        return self._concern(PrivacySettings)

    @property
    def limits(self) -> LimitsSettings:
        return self._concern(LimitsSettings)

    @property
    def tiles(self) -> TilesSettings:
        return self._concern(TilesSettings)

    @property
    def api(self) -> ApiSettings:
        return self._concern(ApiSettings)


@lru_cache
def get_settings() -> Settings:
    """All settings (cached; ``get_settings.cache_clear()`` re-reads the environment)."""
    return Settings()
