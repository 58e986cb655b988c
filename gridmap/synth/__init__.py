"""The seeded synthetic city: everything below county level for Tongliao.

Real: the city and county outlines, the official township and village codes and
names.  Synthetic (``source = "synthetic"``): township and village polygons,
standard addresses, cases, grid workers and patrols — deterministic per seed.

>>> from gridmap.synth import synthesize, write_city
>>> city = synthesize(seed=7, scale=0.02)            # doctest: +SKIP
>>> write_city(city, "var/synth")                     # doctest: +SKIP
"""

from gridmap.synth.city import SynthCity, synthesize
from gridmap.synth.output import write_city

__all__ = ["SynthCity", "synthesize", "write_city"]
