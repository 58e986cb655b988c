"""gridmap: grid-based social governance (网格化管理) on GeoDataFrames and numpy.

All geometries are stored and exchanged in WGS-84 (EPSG:4326, lon/lat degrees);
metric work (areas, distances, compactness) happens in :data:`gridmap.crs.LOCAL_CRS`.
"""

__version__ = "0.1.0"
