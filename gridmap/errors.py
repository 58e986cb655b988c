"""Errors that carry a message meant for the operator (printed without a traceback)."""


class GridmapError(Exception):
    """Base class: the message says what was wrong and what to do."""


class InputError(GridmapError):
    """Bad input: wrong CRS, invalid geometry that cannot be repaired, unreadable file, …"""


class ValidationError(GridmapError):
    """A plan edit or import broke a rule (contiguity, nesting, balance, …)."""
