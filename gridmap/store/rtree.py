"""Bulk-load an SQLite R-tree (the GeoPackage spatial index) in one vectorized pass.

Inserting rows one by one into an SQLite ``rtree`` costs ~15 µs each (R*-tree splits and
reinsertions), i.e. minutes for a few million points.  Like GDAL's GeoPackage driver, this
module instead packs the entries in Hilbert order into full nodes, level by level, and
writes the R-tree's shadow tables (``<name>_node``, ``<name>_rowid``, ``<name>_parent``)
directly, in the file format of SQLite's rtree module (https://sqlite.org/rtree.html):
a node blob is a 2-byte depth (root only), a 2-byte cell count, then cells of a
big-endian int64 id and four big-endian float32 coordinates (minx, maxx, miny, maxy)
rounded outwards.  ``SELECT rtreecheck('<name>')`` verifies the result (see the tests).
"""

from __future__ import annotations

import sqlite3

import numpy as np

from gridmap.store.sql import quote

_CELL = np.dtype([("id", ">i8"), ("box", ">f4", (4,))])
_HILBERT_ORDER = 16


def float32_outward(minx: np.ndarray, maxx: np.ndarray, miny: np.ndarray, maxy: np.ndarray) -> np.ndarray:
    """(n, 4) float32 boxes [minx, maxx, miny, maxy] that contain the float64 ones (as SQLite rounds)."""
    boxes = np.column_stack([minx, maxx, miny, maxy]).astype(np.float64)
    rounded = boxes.astype(np.float32)
    down = rounded[:, [0, 2]].astype(np.float64) > boxes[:, [0, 2]]
    up = rounded[:, [1, 3]].astype(np.float64) < boxes[:, [1, 3]]
    lows, highs = rounded[:, [0, 2]], rounded[:, [1, 3]]
    lows[down] = np.nextafter(lows[down], np.float32(-np.inf))
    highs[up] = np.nextafter(highs[up], np.float32(np.inf))
    rounded[:, [0, 2]], rounded[:, [1, 3]] = lows, highs
    return rounded


def hilbert_order(boxes: np.ndarray) -> np.ndarray:
    """Permutation sorting boxes by the Hilbert index of their centres (keeps nodes compact)."""
    if len(boxes) < 2:
        return np.arange(len(boxes))
    x = (boxes[:, 0].astype(np.float64) + boxes[:, 1]) / 2
    y = (boxes[:, 2].astype(np.float64) + boxes[:, 3]) / 2
    side = (1 << _HILBERT_ORDER) - 1

    def scale(v: np.ndarray) -> np.ndarray:
        span = v.max() - v.min()
        return np.zeros(len(v), np.int64) if span == 0 else ((v - v.min()) / span * side).astype(np.int64)

    xi, yi = scale(x), scale(y)
    d = np.zeros(len(boxes), dtype=np.int64)
    s = 1 << (_HILBERT_ORDER - 1)
    while s > 0:
        rx = (xi & s) > 0
        ry = (yi & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        # rotate the quadrant so the curve stays continuous
        flip = ~ry & rx
        xi = np.where(flip, side - xi, xi)
        yi = np.where(flip, side - yi, yi)
        swap = ~ry
        xi, yi = np.where(swap, yi, xi), np.where(swap, xi, yi)
        s >>= 1
    return np.argsort(d, kind="stable")


def _node_blobs(
    ids: np.ndarray, boxes: np.ndarray, starts: np.ndarray, node_size: int, depth: int
) -> list[bytes]:
    """Blobs for len(starts)-1 nodes; node k holds cells starts[k]:starts[k+1]."""
    n_nodes = len(starts) - 1
    counts = np.diff(starts)
    cells = np.zeros(len(ids), dtype=_CELL)
    cells["id"] = ids
    cells["box"] = boxes
    cell_bytes = cells.view(np.uint8).reshape(len(ids), _CELL.itemsize)
    out = np.zeros((n_nodes, node_size), dtype=np.uint8)
    node_of_cell = np.repeat(np.arange(n_nodes), counts)
    position = np.arange(len(ids)) - starts[node_of_cell]
    offsets = (node_of_cell * node_size + 4 + position * _CELL.itemsize)[:, None] + np.arange(_CELL.itemsize)
    out.reshape(-1)[offsets] = cell_bytes
    header = np.zeros(n_nodes, dtype=[("depth", ">u2"), ("count", ">u2")])
    header["depth"] = depth
    header["count"] = counts
    out[:, :4] = header.view(np.uint8).reshape(n_nodes, 4)
    return out.view(f"V{node_size}").ravel().tolist()


def bulk_load(conn: sqlite3.Connection, rtree: str, ids: np.ndarray, boxes: np.ndarray) -> None:
    """Replace the whole content of R-tree ``rtree`` by ``ids`` with ``boxes`` ((n, 4) float32
    [minx, maxx, miny, maxy], already rounded outwards).  Call inside a transaction."""
    node_table, rowid_table, parent_table = (quote(f"{rtree}_{s}") for s in ("node", "rowid", "parent"))
    (node_size,) = conn.execute(f"SELECT length(data) FROM {node_table} WHERE nodeno = 1").fetchone()
    max_cells = (node_size - 4) // _CELL.itemsize
    conn.execute(f"DELETE FROM {node_table}")
    conn.execute(f"DELETE FROM {rowid_table}")
    conn.execute(f"DELETE FROM {parent_table}")
    order = hilbert_order(boxes)
    level_ids = np.asarray(ids, dtype=np.int64)[order]
    level_boxes = np.asarray(boxes, dtype=np.float32)[order]
    next_node, depth, leaf = 2, 0, True
    while len(level_ids) > max_cells:
        n_nodes = -(-len(level_ids) // max_cells)
        # even split: every node between floor and ceil of n/n_nodes cells (never over max_cells)
        starts = (np.arange(n_nodes + 1) * len(level_ids)) // n_nodes
        node_numbers = np.arange(next_node, next_node + n_nodes, dtype=np.int64)
        blobs = _node_blobs(level_ids, level_boxes, starts, node_size, 0)
        conn.executemany(
            f"INSERT INTO {node_table} (nodeno, data) VALUES (?, ?)",
            zip(node_numbers.tolist(), blobs, strict=True),
        )
        owners = np.repeat(node_numbers, np.diff(starts)).tolist()
        target = rowid_table if leaf else parent_table
        key = "rowid, nodeno" if leaf else "nodeno, parentnode"
        conn.executemany(
            f"INSERT INTO {target} ({key}) VALUES (?, ?)", zip(level_ids.tolist(), owners, strict=True)
        )
        level_boxes = np.column_stack(
            [
                np.minimum.reduceat(level_boxes[:, 0], starts[:-1]),
                np.maximum.reduceat(level_boxes[:, 1], starts[:-1]),
                np.minimum.reduceat(level_boxes[:, 2], starts[:-1]),
                np.maximum.reduceat(level_boxes[:, 3], starts[:-1]),
            ]
        )
        level_ids = node_numbers
        next_node += n_nodes
        depth += 1
        leaf = False
    (root,) = _node_blobs(level_ids, level_boxes, np.array([0, len(level_ids)]), node_size, depth)
    conn.execute(f"INSERT INTO {node_table} (nodeno, data) VALUES (1, ?)", (root,))
    target = rowid_table if leaf else parent_table
    key = "rowid, nodeno" if leaf else "nodeno, parentnode"
    conn.executemany(f"INSERT INTO {target} ({key}) VALUES (?, 1)", [(int(i),) for i in level_ids])
