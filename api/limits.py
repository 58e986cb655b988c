"""Bounded cost per request: empty parameters refused, rate limits, feature and response caps.

* an empty query parameter (``?grid=``) is a 400, never "no filter" (which may mean "everything");
* a token bucket per bearer token and one per client address (``settings.rate_limit_*``;
  0 turns a limit off) answer 429 with ``Retry-After`` when spent;
* :func:`check_feature_count` refuses (413) a collection larger than the role's cap *before* it
  is built (``settings.max_features_anonymous`` / ``max_features_signed_in``);
* a response over ``settings.max_response_bytes_anonymous`` to an anonymous caller is replaced
  by a 413 (the safety net behind the feature caps);
* after a large response the C allocator is asked to give freed memory back to the system
  (``malloc_trim``), so a burst of big answers does not leave the process at its peak size;
* when requests stop, :class:`IdleTrim` gives memory back in two stages (store caches at 15 s,
  every in-process cache at ``settings.idle_release_s``, 60 s).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import hashlib
import re
import threading
import time
from urllib.parse import parse_qsl, unquote

from fastapi import HTTPException
from fastapi.responses import JSONResponse

#: NUL and other control characters: no code, name or filter value contains them
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: answers larger than this trigger malloc_trim afterwards (bytes)
TRIM_AFTER_BYTES = 1 << 20


class TokenBucket:
    """``rate`` tokens per second up to ``burst``, per key (thread-safe, in-process)."""

    def __init__(self, rate: float, burst: int, max_keys: int = 50_000) -> None:
        self.rate, self.burst, self.max_keys = float(rate), int(burst), max_keys
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when a request may go ahead (one token taken), else seconds until the next token."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._state[key] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._state[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            if len(self._state) > self.max_keys:  # forget the idlest keys: memory stays bounded
                for old in sorted(self._state, key=lambda k: self._state[k][1])[: self.max_keys // 10]:
                    del self._state[old]
        return wait


def _token_key(authorization: str | None) -> str | None:
    """A digest of the bearer token (the token itself is never kept)."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    return hashlib.sha256(authorization[7:].strip().encode()).hexdigest()[:32]


def empty_parameter(query: str) -> str | None:
    """Name of the first query parameter given with an empty value, if any."""
    for name, value in parse_qsl(query, keep_blank_values=True):
        if value.strip() == "":
            return name
    return None


_LIBC = None


def release_memory() -> None:
    """Return freed heap memory to the operating system (glibc ``malloc_trim``; no-op elsewhere)."""
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


#: seconds without a request before the store's caches and freed memory go back to the system
#: (idle worker threads keep their store connections: anyio retires them only when new work comes)
IDLE_TRIM_AFTER_S = 15.0
#: seconds without a request before every in-process cache is emptied too (second stage;
#: ``settings.idle_release_s`` overrides it; 0 turns the second stage off)
IDLE_RELEASE_AFTER_S = 60.0


def clear_caches(caches) -> None:
    """Empty each cache: objects with ``clear()`` or ``cache_clear()`` (functools caches)."""
    for cache in caches:
        (getattr(cache, "cache_clear", None) or cache.clear)()


def project_lru_caches() -> list:
    """Every ``functools`` cache of a function in gridmap or api loaded in this process, except
    ``gridmap.config.get_settings`` (the settings, not data).  Found by walking the gc-tracked
    objects, so a cache added later is emptied too without being listed here."""
    import functools
    import gc

    wrapper = type(functools.lru_cache(maxsize=1)(len))
    found = []
    for obj in gc.get_objects():
        if type(obj) is wrapper:
            module = getattr(obj, "__module__", "") or ""
            if module.split(".")[0] in ("gridmap", "api") and obj.__qualname__ != "get_settings":
                found.append(obj)
    return found


class IdleTrim:
    """Two stages once the server has had no request for a while.

    1. After ``after_s`` (15 s): empty the store's caches
       (:meth:`gridmap.store.base.Store.release_memory`) and ``malloc_trim`` once.
    2. After ``release_after_s`` (60 s): empty every in-process cache — ``caches`` (tile cache,
       tile indexes, tile source memo, report cache) and the project's ``functools`` caches
       (:func:`project_lru_caches`) — collect garbage, empty the store's caches and
       ``malloc_trim`` again, so the process goes back to its size before the load.

    The second stage runs on the event loop (about 0.2 s, mostly finding the ``functools``
    caches among the gc-tracked objects), once per pause.

    Under load the caches and the allocator's free lists serve the next request (cheap); a
    short pause keeps the caches (stage 1 only), a long one gives their memory back (stage 2):
    the first requests after it rebuild what they need.
    """

    def __init__(
        self,
        after_s: float = IDLE_TRIM_AFTER_S,
        store=None,
        release_after_s: float = IDLE_RELEASE_AFTER_S,
        caches=(),
    ) -> None:
        self.after_s = after_s
        self.release_after_s = release_after_s
        self.store = store
        self.caches = list(caches)
        self.in_flight = 0
        self._handles: list = []

    def started(self) -> None:
        self.in_flight += 1
        for handle in self._handles:
            handle.cancel()
        self._handles = []

    def finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and not self._handles:
            loop = asyncio.get_running_loop()
            self._handles = [loop.call_later(self.after_s, self._trim)]
            if self.release_after_s > 0:
                self._handles.append(loop.call_later(self.release_after_s, self._release))

    def _trim(self) -> None:
        if self.in_flight == 0:
            if self.store is not None:
                self.store.release_memory()  # the store's caches (SQLite pages) first
            release_memory()

    def _release(self) -> None:
        self._handles = []
        if self.in_flight == 0:
            self.release_all()

    def release_all(self) -> None:
        """The second stage: every cache emptied, garbage collected, memory given back."""
        import gc

        clear_caches(self.caches)
        clear_caches(project_lru_caches())
        gc.collect()
        self._trim()
        self._retire_idle_threads()

    def _retire_idle_threads(self) -> None:
        """End the worker threads left idle by the load, then trim once they are gone.

        Each thread that served requests keeps per-thread state for as long as it lives —
        its store connection, PROJ contexts (pyproj's and GDAL's, each with its own copy of
        ``proj.db``), allocator caches.  anyio stops a worker idle for 10 s only when the next
        job is handed out, so the pool of a busy minute stays after it.  One trivial job now
        lets anyio stop every other idle worker (all of them have been idle longer than that).
        """
        try:
            import anyio.to_thread

            loop = asyncio.get_running_loop()
        except (ImportError, RuntimeError):  # not inside the server's event loop
            return

        def retire() -> None:
            if self.in_flight:  # a request came in meanwhile: the pool is in use again
                return
            job = loop.create_task(anyio.to_thread.run_sync(_noop))
            # the stopped threads end asynchronously: give them a moment before trimming again
            job.add_done_callback(lambda _job: loop.call_later(1.0, self._trim))

        # anyio stops only workers idle for its MAX_IDLE_TIME (10 s): with a short second stage
        # (GRIDMAP_IDLE_RELEASE_S below that) the job waits until they are
        try:
            from anyio._backends._asyncio import WorkerThread

            worker_idle_s = float(WorkerThread.MAX_IDLE_TIME)
        except (ImportError, AttributeError):
            worker_idle_s = 10.0
        loop.call_later(max(0.0, worker_idle_s + 0.5 - self.release_after_s), retire)


def _noop() -> None:
    return None


def install(app, settings) -> None:
    """The middleware: empty parameters, rate limits, the anonymous response cap, memory release."""
    per_address = TokenBucket(settings.rate_limit_per_address, settings.rate_limit_burst)
    per_token = TokenBucket(settings.rate_limit_per_token, settings.rate_limit_burst * 2)
    app.state.rate_limits = (per_address, per_token)
    cap = settings.max_response_bytes_anonymous
    # requests that read the store and build answers hold their working set until they finish;
    # a bounded number at once bounds the server's memory (tiles and health are light: not counted)
    busy = asyncio.Semaphore(max(1, settings.max_concurrent_requests))
    state = app.state
    idle = IdleTrim(
        store=getattr(state, "store", None),
        release_after_s=getattr(settings, "idle_release_s", IDLE_RELEASE_AFTER_S),
        caches=[
            *(
                getattr(state, name)
                for name in ("tile_cache", "tile_indexes", "tile_sources")
                if hasattr(state, name)
            ),
            REPORTS,
            _default_tile_indexes(),
        ],
    )
    app.state.idle_trim = idle

    @app.middleware("http")
    async def bounded_cost(request, call_next):
        path = request.url.path
        served = path.startswith(("/api/", "/ogc", "/tiles/"))
        idle.started()
        try:
            if served and not path.startswith(("/tiles/", "/api/health", "/api/v1/health")):
                async with busy:
                    return await _bounded(request, call_next, path, served)
            return await _bounded(request, call_next, path, served)
        finally:
            idle.finished()

    async def _bounded(request, call_next, path, served):
        if served:
            name = empty_parameter(request.url.query)
            if name is not None:
                return JSONResponse(
                    {"detail": f"parameter {name!r} is empty: leave it out or give a value"}, status_code=400
                )
            if _CONTROL.search(unquote(request.url.query)) or _CONTROL.search(path):
                return JSONResponse(
                    {"detail": "control characters are not allowed in the address"}, status_code=400
                )
            token = _token_key(request.headers.get("authorization"))
            address = request.client.host if request.client else "unknown"
            wait = per_token.take(token) if token else per_address.take(address)
            if wait > 0:
                return JSONResponse(
                    {"detail": "too many requests: slow down"},
                    status_code=429,
                    headers={"Retry-After": str(max(1, round(wait)))},
                )
        response = await call_next(request)
        length = response.headers.get("content-length")
        size = int(length) if length and length.isdigit() else 0
        if served and cap and size > cap and not request.headers.get("authorization"):
            release_memory()
            return JSONResponse(
                {
                    "detail": f"answer too large for anonymous use ({size / 1e6:.1f} MB, limit "
                    f"{cap / 1e6:.1f} MB): narrow it with bbox, admin, grid or limit, "
                    "or sign in"
                },
                status_code=413,
            )
        if size > TRIM_AFTER_BYTES:
            release_memory()
        return response


def _default_tile_indexes():
    """The tile indexes of callers that pass none (:data:`api.tilesource._DEFAULT_INDEXES`)."""
    from api.tilesource import _DEFAULT_INDEXES

    return _DEFAULT_INDEXES


def answer_cap(principal, settings) -> int | None:
    """Largest answer in bytes built for the role (anonymous only; None = no cap)."""
    if principal.is_authenticated or not settings.max_response_bytes_anonymous:
        return None
    return settings.max_response_bytes_anonymous


def features_within(frame, max_bytes: int, properties: int) -> int:
    """How many leading rows of ``frame`` fit in ``max_bytes`` of GeoJSON (same estimate as
    :func:`api.geojson.feature_collection_text`)."""
    import numpy as np
    import shapely

    from api.geojson import BYTES_PER_COORDINATE, BYTES_PER_FEATURE

    sizes = shapely.get_num_coordinates(frame.geometry.to_numpy()) * BYTES_PER_COORDINATE + (
        BYTES_PER_FEATURE + 24 * properties
    )
    return int(np.searchsorted(np.cumsum(sizes), max_bytes, side="right"))


def feature_cap(principal, settings) -> int:
    """Largest collection (features or rows) the role may ask for in one response."""
    if principal.is_authenticated:
        return settings.max_features_signed_in
    return settings.max_features_anonymous


def check_feature_count(count: int, principal, settings, what: str) -> None:
    """413 when ``count`` features exceed the role's cap (call it before building the answer)."""
    cap = feature_cap(principal, settings)
    if count > cap:
        raise HTTPException(
            413,
            f"{count} {what} exceed the limit of {cap} per request for role "
            f"{principal.role}: narrow the request with bbox or a code",
        )


def count_rows(
    store, table: str, where: dict, bbox: tuple[float, float, float, float] | None, id_column: str
) -> int:
    """Rows of ``table`` a read with ``where`` and ``bbox`` would return (ids only: cheap)."""
    if bbox is None:
        return store.count(table, where or None)
    return len(store.read(table, where=where or None, columns=[id_column], bbox=bbox))


class ReportCache:
    """Expensive reports (plan quality, coverage audit, KPIs) computed once per key and kept.

    Single flight: concurrent requests for one key wait for the one computation instead of
    each starting it (20 clients asking for the same report at once ran 20 copies, and the
    server grew to 7 GB); at most ``parallel`` different reports are computed at a time.
    """

    def __init__(self, max_items: int = 16, parallel: int = 2) -> None:
        from collections import OrderedDict

        self.max_items = max_items
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._flights: dict = {}
        self._slots = threading.BoundedSemaphore(parallel)

    def get(self, key, compute):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            flight = self._flights.setdefault(key, threading.Lock())
        with flight:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            with self._slots:
                value = compute()
            with self._lock:
                self._items[key] = value
                self._flights.pop(key, None)
                while len(self._items) > self.max_items:
                    self._items.popitem(last=False)
        release_memory()
        return value

    def clear(self) -> None:
        """Forget every kept report (computations under way still finish and are kept)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


#: one per process: the reports are keyed by store URL and state
REPORTS = ReportCache()

#: glibc's M_ARENA_MAX: fewer malloc arenas, so memory freed by one worker thread is reused by
#: the others instead of each thread's arena keeping its own peak
_M_ARENA_MAX = -8
#: prctl option that turns transparent huge pages off for this process (Linux >= 3.15)
_PR_SET_THP_DISABLE = 41


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc malloc arenas for this process (no-op where mallopt is missing)."""
    release_memory()  # loads libc
    if _LIBC and hasattr(_LIBC, "mallopt"):
        _LIBC.mallopt(_M_ARENA_MAX, arenas)


def disable_huge_pages() -> bool:
    """Keep the server's memory in 4 KiB pages, so that what it frees can go back to the system.

    numpy asks the kernel for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every
    array of 4 MiB or more.  In a long-running server those 2 MiB pages outlive the arrays: a
    huge page goes back only when all of it is free, and the kernel's ``khugepaged`` may later
    collapse partly used ranges of the heap into full huge pages, so resident memory can grow
    with no request served.  Measured under ``bench/soak.py`` before this: 184 MiB of the
    server's memory in huge pages during the load, 30 MiB still after it.  So numpy's advice
    is turned off and the process opts out of huge pages (``PR_SET_THP_DISABLE``, inherited by
    children).  Returns whether the kernel accepted the opt-out (False off Linux).
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    multiarray._set_madvise_hugepage(False)
    release_memory()  # loads libc
    if not _LIBC or not hasattr(_LIBC, "prctl"):
        return False
    return _LIBC.prctl(_PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0


def thp_disabled() -> bool | None:
    """Whether transparent huge pages are off for this process (None where /proc does not say)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("THP_enabled:"):
                    return line.split()[1] == "0"
    except OSError:
        pass
    return None
