"""Point-in-polygon, written once: which polygon holds each point.

The rule (every caller — geocoding, patrols, hotspot counts, partition sums, synth —
gets it from here):

* a point inside exactly one polygon gets that polygon (what
  ``geopandas.sjoin(points, polygons, predicate="within")`` gives);
* a point on the boundary of one or more polygons (a shared edge or vertex) gets the
  polygon with the **lowest code** among those whose closure contains it — so a point on
  a shared border is counted once, always in the same polygon, whatever the row order;
* where polygons overlap (a valid plan never does) the lowest code among the polygons
  containing the point wins too;
* a point in no polygon, a NaN coordinate or a missing/empty polygon gives -1.

"Lowest code" is the lowest ``codes`` value (string order) when codes are given, else
the lowest row position.  Coordinates and polygons must share one CRS; gridmap passes
WGS-84 degrees (EPSG:4326) everywhere.

Vectorised: one ``shapely.STRtree`` envelope query for all points, then one prepared
``shapely.intersects_xy`` call over the candidate pairs; no Python loop per point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

NO_POLYGON = -1
#: points located per batch by :meth:`PolygonIndex.locate_ranks` (bounds its memory)
_POINTS_PER_BATCH = 100_000


class PolygonIndex:
    """A reusable point-in-polygon index (see the module docstring for the rule).

    Parameters
    ----------
    polygons : array-like of shapely geometries
        Polygons or MultiPolygons, in the CRS of the points later located (degrees for WGS-84).
    codes : sequence of str, optional
        One code per polygon; the lowest code wins on shared borders.  Default: the row
        position (the lowest position wins).
    """

    def __init__(self, polygons: Sequence | np.ndarray, codes: Sequence | np.ndarray | None = None) -> None:
        geoms = np.asarray(polygons, dtype=object).ravel()
        self.n = len(geoms)
        self.geoms = geoms
        usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if self.n else np.zeros(0, bool)
        self._positions = np.flatnonzero(usable)
        kept = geoms[self._positions]
        shapely.prepare(kept)
        self._kept = kept
        if codes is None:
            rank = np.arange(self.n, dtype=np.int64)
        else:
            codes = np.asarray(codes, dtype=object).astype(str)
            if len(codes) != self.n:
                raise ValueError(f"{len(codes)} codes for {self.n} polygons")
            order = np.argsort(codes, kind="stable")
            rank = np.empty(self.n, dtype=np.int64)
            rank[order] = np.arange(self.n, dtype=np.int64)
        #: rank[i] = position of polygon i in code order ("lowest code" = "lowest rank")
        self.rank = rank
        self._by_rank = np.argsort(rank, kind="stable")
        self.tree = shapely.STRtree(kept)

    def __len__(self) -> int:
        return self.n

    def locate_ranks(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Per point the code rank of its polygon (see :attr:`rank`), or -1."""
        lon = np.ascontiguousarray(lon, dtype=float).ravel()
        lat = np.ascontiguousarray(lat, dtype=float).ravel()
        if lon.shape != lat.shape:
            raise ValueError(f"lon and lat differ in length: {lon.shape[0]} vs {lat.shape[0]}")
        best = np.full(lon.shape[0], np.iinfo(np.int64).max, dtype=np.int64)
        ok = np.flatnonzero(np.isfinite(lon) & np.isfinite(lat))
        # a bounded batch of points at a time: the candidate pairs and point objects of a
        # million points at once would need hundreds of MiB
        for start in range(0, len(ok) if len(self._kept) else 0, _POINTS_PER_BATCH):
            part = ok[start : start + _POINTS_PER_BATCH]
            point_i, kept_i = self.tree.query(shapely.points(lon[part], lat[part]))  # envelope candidates
            inside = shapely.intersects_xy(self._kept[kept_i], lon[part][point_i], lat[part][point_i])
            np.minimum.at(best, part[point_i[inside]], self.rank[self._positions[kept_i[inside]]])
        best[best == np.iinfo(np.int64).max] = NO_POLYGON
        return best

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Per point the row position of its polygon, or -1 (:data:`NO_POLYGON`)."""
        ranks = self.locate_ranks(lon, lat)
        out = np.full(ranks.shape[0], NO_POLYGON, dtype=np.int64)
        found = ranks >= 0
        out[found] = self._by_rank[ranks[found]]
        return out


def points_in_polygons(
    lon: np.ndarray,
    lat: np.ndarray,
    polygons: Sequence | np.ndarray,
    codes: Sequence | np.ndarray | None = None,
) -> np.ndarray:
    """Row position of the polygon holding each point, -1 where none does.

    ``lon``/``lat``: coordinates in the polygons' CRS (gridmap: WGS-84 degrees); ``codes``:
    optional polygon codes, the lowest wins on shared borders (default: lowest position).
    See the module docstring for the full rule.  Build a :class:`PolygonIndex` to reuse it.
    """
    return PolygonIndex(polygons, codes).locate(lon, lat)


def geometries_in_polygons(
    points: Sequence | np.ndarray, polygons: Sequence | np.ndarray, codes: Sequence | np.ndarray | None = None
) -> np.ndarray:
    """:func:`points_in_polygons` for shapely points (missing/empty points give -1)."""
    pts = np.asarray(points, dtype=object).ravel()
    lon = np.full(len(pts), np.nan)
    lat = np.full(len(pts), np.nan)
    has = ~(shapely.is_missing(pts) | shapely.is_empty(pts)) if len(pts) else np.zeros(0, bool)
    lon[has], lat[has] = shapely.get_x(pts[has]), shapely.get_y(pts[has])
    return points_in_polygons(lon, lat, polygons, codes)
