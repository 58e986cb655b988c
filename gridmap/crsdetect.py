"""Which coordinate system a file without one can be in — never a guess.

Supported systems (:func:`supported`): WGS-84 (EPSG:4326), CGCS2000 geographic (EPSG:4490),
GCJ-02 and BD-09 (degrees, the shifted systems of Chinese web maps), and the Gauss–Krüger
projections of CGCS2000, Xi'an 1980 and Beijing 1954 in 3° and 6° zones, with the zone
number prefixed to the easting (``zone 41``: easting 41 500 000 m) and without it
(``CM 123E``: easting 500 000 m) — taken from the EPSG database (pyproj) for the area.

:func:`fitting` tries each on a sample of the coordinates: a system *fits* when every
sampled point, converted to WGS-84, lies inside the area outline grown by a margin.
Systems that give the same numbers (WGS-84 and CGCS2000 agree within a metre; the 3° and
6° zones share the central meridian 123°E) fit together and are listed together.
:func:`require_crs` turns the outcome into the one-line refusal an import shows: the one
code that fits and the flag that confirms it, or the candidates, or why nothing fits.

Inputs are plain numbers (x, y in the file's units: degrees or metres); the area is a
shapely polygon in WGS-84 degrees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from gridmap.errors import InputError

#: sampled points per test (evenly spread over the input)
SAMPLE = 2000
_GK_NAME = re.compile(r"^(CGCS2000|Xian 1980|Beijing 1954) / (3-degree )?Gauss-Kruger (zone \d+|CM \d+E)$")


@dataclass(frozen=True)
class Candidate:
    """A coordinate system a file may be in: ``code`` as ``--crs`` takes it and a label."""

    code: str  # "EPSG:4529", "gcj02", "bd09"
    label: str

    @property
    def flag(self) -> str:
        return f"--crs {self.code}"


GEOGRAPHIC = (
    Candidate("EPSG:4326", "WGS-84 lon/lat"),
    Candidate("EPSG:4490", "CGCS2000 lon/lat"),
    Candidate("gcj02", "GCJ-02 lon/lat (Amap, Tencent)"),
    Candidate("bd09", "BD-09 lon/lat (Baidu)"),
)


@lru_cache(maxsize=8)
def _projected(bounds: tuple[float, float, float, float]) -> tuple[Candidate, ...]:
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_crs_info

    found = query_crs_info(
        auth_name="EPSG", pj_types="PROJECTED_CRS", area_of_interest=AreaOfInterest(*bounds)
    )
    out = [Candidate(f"EPSG:{info.code}", info.name) for info in found if _GK_NAME.match(info.name)]
    return tuple(sorted(out, key=lambda c: int(c.code.split(":")[1])))


def supported(area: BaseGeometry) -> list[Candidate]:
    """Every system tried for an area (WGS-84 polygon)."""
    minx, miny, maxx, maxy = (round(float(v), 3) for v in area.bounds)
    return [*GEOGRAPHIC, *_projected((minx, miny, maxx, maxy))]


def to_wgs84(x: np.ndarray, y: np.ndarray, code: str) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in ``code`` (EPSG:NNNN, gcj02, bd09, wgs84, cgcs2000) → WGS-84 lon/lat degrees."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    lowered = code.strip().lower()
    if lowered in ("gcj02", "gcj-02", "bd09", "bd-09", "wgs84", "cgcs2000"):
        from gridmap.geocode.transform import canonical_crs
        from gridmap.geocode.transform import to_wgs84 as shifted_to_wgs84

        lon, lat = shifted_to_wgs84(x, y, canonical_crs(lowered))
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    transformer = _transformer(code)
    lon, lat = transformer.transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


@lru_cache(maxsize=64)
def _transformer(code: str) -> pyproj.Transformer:
    try:
        crs = pyproj.CRS.from_user_input(code)
    except pyproj.exceptions.CRSError:
        raise InputError(
            f"unknown coordinate system {code!r}: use EPSG:NNNN, wgs84, cgcs2000, gcj02 or bd09"
        ) from None
    return pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def _sample(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) > SAMPLE:
        pick = np.linspace(0, len(x) - 1, SAMPLE).astype(int)
        x, y = x[pick], y[pick]
    return x, y


def _fence(area: BaseGeometry, margin_km: float) -> BaseGeometry:
    from gridmap.geocode.checks import city_fence

    return city_fence(area, margin_km)


def fitting(x, y, area: BaseGeometry, margin_km: float = 5.0) -> list[Candidate]:
    """The supported systems in which every sampled (x, y) lies in ``area`` ± ``margin_km``."""
    from gridmap.crs import to_local

    x, y = _sample(np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel())
    if not len(x):
        return []
    fence = _fence(area, margin_km)
    degrees = bool(np.all(np.abs(x) <= 180.0) and np.all(np.abs(y) <= 90.0))
    out = []
    for candidate in supported(area):
        geographic = candidate in GEOGRAPHIC
        if geographic != degrees:
            continue
        with np.errstate(all="ignore"):
            lon, lat = to_wgs84(x, y, candidate.code)
        if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
            continue
        if not (np.all(np.abs(lon) <= 180.0) and np.all(np.abs(lat) <= 90.0)):
            continue
        px, py = to_local(lon, lat)
        if shapely.contains_xy(fence, np.asarray(px), np.asarray(py)).all():
            out.append(candidate)
    return out


#: the geodetic datum of China since 1 July 2008 (GB/T 2008 order of the State Bureau of Surveying)
NATIONAL_DATUM = "CGCS2000"


def _datum(candidate: Candidate) -> str:
    return candidate.label.split(" / ", 1)[0]


def _datum_lead(fits: list[Candidate], x, y) -> str | None:
    """The refusal text when every fit is one Gauss–Krüger projection on different datums.

    A datum cannot be told from coordinates: CGCS2000, Xi'an 1980 and Beijing 1954 with the
    same zone give the same kind of numbers, and the points land within metres to a hundred
    metres of each other (pyproj converts Xi'an 1980 by a ballpark — no datum shift, only
    its ellipsoid; Beijing 1954 by EPSG's seven-parameter shift), less than the accuracy of
    the shipped outlines (web-map county outlines; townships and villages have none).  So the
    message leads with the CGCS2000 code — the national standard since 2008, what a survey
    made since then is in — and names the others with how far apart they put the points.
    Returns None when the fits are not of that shape (then all are listed).
    """
    projected = [c for c in fits if c not in GEOGRAPHIC]
    national = [c for c in projected if _datum(c) == NATIONAL_DATUM]
    if not national or len(projected) != len(fits) or len(projected) < 2:
        return None
    # one projection: a 3° and a 6° zone with the same central meridian give identical numbers
    lead = sorted(national, key=lambda c: ("3-degree" not in c.label, int(c.code.split(":")[1])))[0]
    same = [c for c in national if c is not lead]
    older = [c for c in projected if _datum(c) != NATIONAL_DATUM]
    sx, sy = _sample(np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel())
    mx, my = np.array([np.median(sx)]), np.array([np.median(sy)])
    lon0, lat0 = to_wgs84(mx, my, lead.code)
    geod = pyproj.Geod(ellps="WGS84")

    def apart(candidate: Candidate) -> str:
        lon, lat = to_wgs84(mx, my, candidate.code)
        return f"{geod.inv(lon0[0], lat0[0], lon[0], lat[0])[2]:.0f} m"

    text = (
        f"the coordinates fit {lead.code} ({lead.label}), most likely: {NATIONAL_DATUM} is the national datum "
        f"since 2008; confirm with {lead.flag}"
    )
    if same:
        text += f" (identical numbers: {', '.join(c.code for c in same)})"
    if older:
        listed = ", ".join(f"{c.code} ({c.label}, points {apart(c)} apart)" for c in older)
        text += (
            f". The same numbers fit {listed} too: the same projection on an older datum, which coordinates "
            "cannot tell apart; if the data predate 2008 and were never converted, pass that code instead"
        )
    return text


def require_crs(x, y, area: BaseGeometry, source: str, margin_km: float = 5.0) -> None:
    """Refuse (one line, :class:`InputError`) a file that declares no coordinate system.

    Exactly one fit: the message names its code and the flag that confirms it; one
    Gauss–Krüger projection on several datums: it leads with the CGCS2000 code and says why
    the others are named (:func:`_datum_lead`); several others: it lists them; none: it says
    so.  Never returns a guess (it always raises).
    """
    fits = fitting(x, y, area, margin_km)
    if len(fits) == 1:
        only = fits[0]
        raise InputError(
            f"{source}: no coordinate system declared; the coordinates fit only {only.code} "
            f"({only.label}); confirm with {only.flag}"
        )
    lead = _datum_lead(fits, x, y)
    if lead is not None:
        raise InputError(f"{source}: no coordinate system declared; {lead}")
    if fits:
        listed = "; ".join(f"{c.code} ({c.label})" for c in fits)
        raise InputError(
            f"{source}: no coordinate system declared and the coordinates fit {len(fits)} systems: "
            f"{listed}; say which with --crs CODE"
        )
    raise InputError(
        f"{source}: no coordinate system declared and the coordinates fit none of the supported systems "
        "in the area (WGS-84, CGCS2000, GCJ-02, BD-09, Gauss–Krüger of CGCS2000 / Xi'an 1980 / Beijing "
        "1954); check the file or pass --crs EPSG:NNNN"
    )
