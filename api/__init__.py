"""gridmap web API (FastAPI): REST under ``/api/v1``, OGC API – Features under ``/ogc``,
vector tiles under ``/tiles`` and the static front end at ``/``.

Build the application with :func:`api.main.create_app`.
"""
