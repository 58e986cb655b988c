"""The gridmap store: one interface (:class:`Store`), two backends.

* :class:`~gridmap.store.gpkg.GpkgStore`: a single GeoPackage file (default ``var/gridmap.gpkg``)
  that QGIS opens directly;
* :class:`~gridmap.store.postgis.PostgisStore`: PostgreSQL + PostGIS.

Use :func:`open_store`; tables are declared in :mod:`gridmap.store.schema`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from gridmap.store.base import Between, Op, Store, StoreError
from gridmap.store.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "Between", "Op", "Store", "StoreError", "open_store", "is_postgres_url"]

_POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(url: str | Path) -> bool:
    return isinstance(url, str) and url.strip().lower().startswith(_POSTGRES_SCHEMES)


def _split_schema(url: str) -> tuple[str, str | None]:
    """Take gridmap's own ``?schema=NAME`` out of a PostgreSQL URL (libpq does not know it)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema or None


def open_store(url: str | Path | None = None) -> Store:
    """Open (creating or migrating it) the store at ``url`` and return it.

    Backend choice:

    * ``None`` → settings: ``GRIDMAP_DATABASE_URL`` if set (PostGIS), else the GeoPackage
      at ``GRIDMAP_GPKG_PATH`` (default ``var/gridmap.gpkg``);
    * a ``postgresql://`` (or ``postgres://``) URL → PostGIS; ``?schema=NAME`` selects a
      schema other than ``public``;
    * anything else → a GeoPackage file path.

    Calls :meth:`Store.init`, which refuses (:class:`StoreError`) a store whose recorded
    schema_version is newer than this code's.
    """
    if url is None:
        from gridmap.config import get_settings

        settings = get_settings()
        url = settings.database_url.strip() or settings.gpkg_path
    store: Store
    if is_postgres_url(url):
        from gridmap.store.postgis import PostgisStore

        dsn, schema = _split_schema(str(url).strip())
        store = PostgisStore(dsn, schema=schema or "public")
    else:
        from gridmap.store.gpkg import GpkgStore

        store = GpkgStore(Path(url))
    try:
        store.init()
    except BaseException:
        store.close()
        raise
    return store
