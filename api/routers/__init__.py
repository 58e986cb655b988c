"""API routers: parameter parsing, authorisation and serialisation only — the work is done
by the gridmap sub-packages they call."""
