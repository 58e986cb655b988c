"""Independent, reproducible random streams per component of the synthetic city.

Every component draws from its own :class:`numpy.random.Generator` derived from the
city seed through :class:`numpy.random.SeedSequence` spawn keys, so changing how
one component draws (or adding a component) never shifts the numbers of another.
Sub-streams (one per county, township, …) add further integer keys, e.g. the
unit's official code, so they do not depend on iteration order either.
"""

from __future__ import annotations

import numpy as np

#: fixed key per component; append new components, never renumber
COMPONENTS = {
    "admin": 0,
    "addresses": 1,
    "hotspots": 2,
    "cases": 3,
    "people": 4,
    "text": 5,
    "coords": 6,
    "workers": 7,
    "patrols": 8,
    "agents": 9,
    # issue #14 (self-excitation, drifting zones): keys from 20 up, clear of other new components
    "selfexcite": 20,
    "drift": 21,
}


def stream(seed: int, component: str, *keys: int) -> np.random.Generator:
    """The generator of ``component`` (and optional integer sub-keys) for ``seed``."""
    spawn_key = (COMPONENTS[component], *(int(k) for k in keys))
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=spawn_key))
