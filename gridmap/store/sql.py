"""Portable ``where`` / ``order_by`` / ``limit`` → SQL, with one small dialect per backend.

Semantics are the same on every backend (see :mod:`gridmap.store.base`):

* ``None`` (or NaN) → ``IS NULL``; a list → ``IN`` (``None`` in the list also matches NULL;
  an empty list matches nothing); :class:`Between` → ``lo <= col < hi`` (no bounds → ``IS NOT NULL``);
  :class:`Op` with ``=``/``!=`` and ``None`` → ``IS [NOT] NULL``; other comparisons never match NULL.
* ``order_by`` items are ``"col"``, ``"col DESC"`` or ``"-col"``; NULLs sort last ascending and
  first descending (PostgreSQL's rule, imposed on SQLite too); ties come in primary-key order
  (on partitioned PostgreSQL tables the key is added to the ORDER BY).  Without ``order_by`` rows come in primary-key order, so paging with ``limit``/``offset``
  is stable.
* Operands are converted to the column type first (``{"code": 150502}`` matches ``'150502'``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gridmap.store.columns import coerce_scalar, is_null
from gridmap.store.filters import Between, Op, StoreError, Where
from gridmap.store.schema import Table

OPERATORS = ("=", "!=", "<", "<=", ">", ">=")


def quote(name: str) -> str:
    """A double-quoted SQL identifier (both backends)."""
    return '"' + name.replace('"', '""') + '"'


class Dialect:
    placeholder = "?"
    limit_all = "-1"
    #: whether a table may be declared partitioned here (its rows then come in partition-scan order)
    scans_partitions = False

    def in_list(self, column_sql: str, values: list[Any]) -> tuple[str, list[Any]]:
        marks = ", ".join([self.placeholder] * len(values))
        return f"{column_sql} IN ({marks})", list(values)


class SqliteDialect(Dialect):
    placeholder = "?"
    limit_all = "-1"
    _MANY = 200

    def in_list(self, column_sql: str, values: list[Any]) -> tuple[str, list[Any]]:
        # Long lists travel as one JSON parameter: SQLite caps bound variables per statement.
        if len(values) > self._MANY:
            return f"{column_sql} IN (SELECT value FROM json_each(?))", [json.dumps(values)]
        return super().in_list(column_sql, values)


class PostgresDialect(Dialect):
    placeholder = "%s"
    limit_all = "ALL"
    scans_partitions = True

    def in_list(self, column_sql: str, values: list[Any]) -> tuple[str, list[Any]]:
        return f"{column_sql} = ANY(%s)", [list(values)]


def _column_type(table: Table, column: str) -> str:
    if column not in table.columns:
        raise StoreError(
            f"{table.name}: unknown column {column!r} in filter; the table has {list(table.columns)}"
        )
    return table.columns[column]


def _is_listlike(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset | np.ndarray | pd.Series | pd.Index)


def where_sql(table: Table, where: Where | None, dialect: Dialect) -> tuple[str, list[Any]]:
    """``(" AND "-joined condition or "", parameters)`` for a portable ``where`` dict."""
    if not where:
        return "", []
    ph = dialect.placeholder
    clauses: list[str] = []
    params: list[Any] = []
    for column, condition in where.items():
        sql_type = _column_type(table, column)
        col = quote(column)
        label = f"{table.name}.{column}"
        if isinstance(condition, Between):
            lo = coerce_scalar(condition.lo, sql_type, label)
            hi = coerce_scalar(condition.hi, sql_type, label)
            parts = [f"{col} IS NOT NULL"] if lo is None and hi is None else []
            if lo is not None:
                parts.append(f"{col} >= {ph}")
                params.append(lo)
            if hi is not None:
                parts.append(f"{col} < {ph}")
                params.append(hi)
            clauses.append(" AND ".join(parts))
        elif isinstance(condition, Op):
            if condition.op not in OPERATORS:
                raise StoreError(f"{label}: unknown operator {condition.op!r}; use one of {OPERATORS}")
            value = coerce_scalar(condition.value, sql_type, label)
            if value is None:
                if condition.op not in ("=", "!="):
                    raise StoreError(f"{label}: {condition.op} NULL never matches; use = or !=")
                clauses.append(f"{col} IS {'NOT ' if condition.op == '!=' else ''}NULL")
            else:
                clauses.append(f"{col} {condition.op} {ph}")
                params.append(value)
        elif _is_listlike(condition):
            items = list(condition)
            if not (sql_type == "TEXT" and all(type(v) is str and "\x00" not in v for v in items)):
                items = [coerce_scalar(v, sql_type, label) for v in items]  # plain text needs no conversion
            present = list(dict.fromkeys(v for v in items if v is not None))
            has_null = any(v is None for v in items)
            parts = []
            if present:
                sql, extra = dialect.in_list(col, present)
                parts.append(sql)
                params.extend(extra)
            if has_null:
                parts.append(f"{col} IS NULL")
            clauses.append("(" + " OR ".join(parts) + ")" if parts else "1 = 0")
        elif is_null(condition):
            clauses.append(f"{col} IS NULL")
        else:
            clauses.append(f"{col} = {ph}")
            params.append(coerce_scalar(condition, sql_type, label))
    return " AND ".join(f"({c})" for c in clauses), params


def order_sql(table: Table, order_by: Sequence[str] | None, dialect: Dialect | None = None) -> str:
    """``ORDER BY …`` (primary-key order when ``order_by`` is None; "" for a table without one)."""
    if order_by is None:
        items = [(c, False) for c in table.primary_key]
    else:
        if isinstance(order_by, str):
            order_by = [order_by]
        items = []
        for item in order_by:
            text = item.strip()
            descending = False
            if text.startswith("-"):
                text, descending = text[1:].strip(), True
            else:
                words = text.rsplit(None, 1)
                if len(words) == 2 and words[1].upper() in ("ASC", "DESC"):
                    text, descending = words[0], words[1].upper() == "DESC"
            _column_type(table, text)
            items.append((text, descending))
        if table.partition_key is not None and dialect is not None and dialect.scans_partitions:
            # a partitioned PostgreSQL table returns equal rows in partition-scan order: ties are
            # broken by the primary key, so that the order (and paging) is the one SQLite gives
            named = {c for c, _ in items}
            items += [(c, False) for c in table.primary_key if c not in named]
    if not items:
        return ""
    terms = [f"{quote(c)} {'DESC NULLS FIRST' if d else 'ASC NULLS LAST'}" for c, d in items]
    return " ORDER BY " + ", ".join(terms)


def limit_sql(limit: int | None, offset: int, dialect: Dialect) -> tuple[str, list[Any]]:
    if limit is not None and (not isinstance(limit, int | np.integer) or limit < 0):
        raise StoreError(f"limit must be a non-negative integer, got {limit!r}")
    if not isinstance(offset, int | np.integer) or offset < 0:
        raise StoreError(f"offset must be a non-negative integer, got {offset!r}")
    if limit is None and not offset:
        return "", []
    ph = dialect.placeholder
    if limit is None:
        return f" LIMIT {dialect.limit_all} OFFSET {ph}", [int(offset)]
    return f" LIMIT {ph} OFFSET {ph}", [int(limit), int(offset)]


def select_columns(table: Table, columns: Sequence[str] | None) -> tuple[list[str], bool]:
    """(attribute columns to read, whether to read the geometry) for ``read(columns=...)``."""
    if columns is None:
        return list(table.columns), table.is_spatial
    if isinstance(columns, str):
        columns = [columns]
    wanted = list(dict.fromkeys(columns))
    unknown = [c for c in wanted if c not in table.columns and not (c == "geometry" and table.is_spatial)]
    if unknown:
        raise StoreError(f"{table.name}: unknown columns {unknown}; the table has {list(table.columns)}")
    return [c for c in wanted if c != "geometry"], "geometry" in wanted


def check_bbox(table: Table, bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """``bbox`` as four finite floats (minlon, minlat, maxlon, maxlat) for a spatial table."""
    if not table.is_spatial:
        raise StoreError(f"{table.name}: bbox filter on a table without geometry")
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise StoreError(f"bbox must be (minlon, minlat, maxlon, maxlat), got {bbox!r}") from None
    if not (minx <= maxx and miny <= maxy) or not np.isfinite([minx, miny, maxx, maxy]).all():
        raise StoreError(f"bbox must be (minlon, minlat, maxlon, maxlat) with min <= max, got {bbox!r}")
    return minx, miny, maxx, maxy
