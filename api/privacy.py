"""Masking of personal fields and a logging filter that keeps phone and ID numbers out of logs.

Personal fields: cases ``party_name``, ``party_phone``, ``party_id_number``; workers ``name``,
``phone``, ``id_number``.  Masks keep just enough to tell records apart on screen:

* name ``张三丰`` → ``张**`` (first character kept);
* phone ``19912341234`` → ``199****1234`` (first 3 and last 4 digits kept);
* ID number ``150502199001011234`` → ``150502********1234`` (region code and last 4 kept).

Counts shown to roles without all-case access follow :mod:`gridmap.disclosure` (small cells
suppressed, the others perturbed by their cell key): the one place of that rule.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import pandas as pd

CASE_PERSONAL_FIELDS = ("party_name", "party_phone", "party_id_number")
WORKER_PERSONAL_FIELDS = ("name", "phone", "id_number")

#: a separator people type inside numbers: a space, a hyphen or a dot
_SEP = r"[\s.\-]?"
#: mobile numbers, optionally with +86 / 0086 / 86: 19900363604, 199-0036-3604, 199 0036 3604, +86 199…
_PHONE = re.compile(
    r"(?<![\dA-Za-z])(?P<head>(?:(?:\+|00)?86" + _SEP + r")?1[3-9]\d)"
    r"(?P<body>" + _SEP + r"\d{4}" + _SEP + r")(?P<tail>\d{4})(?![\dA-Za-z])"
)
#: landlines with an area code: 0475-8123456, (0475) 812 3456, 010 1234 5678, +86 475 8123456
_LANDLINE = re.compile(
    r"(?<![\dA-Za-z])(?P<head>(?:(?:\+|00)86"
    + _SEP
    + r"\(?0?[1-9]\d{1,2}\)?|\(?0[1-9]\d{1,2}\)?)"
    + _SEP
    + r")(?P<body>\d{3,4}"
    + _SEP
    + r"\d{2})(?P<tail>\d{2})(?![\dA-Za-z])"
)
#: 18-character ID numbers (last character a digit or X), also typed in groups 6-8-4
_ID_NUMBER = re.compile(
    r"(?<![\dA-Za-z])(?P<head>\d{6})(?P<body>" + _SEP + r"\d{8}" + _SEP + r"\d{0})"
    r"(?P<tail>\d{3}[\dXx])(?![\dA-Za-z])"
)


def mask_name(name: object) -> object:
    """``张三`` → ``张*``; empty/None unchanged."""
    if not isinstance(name, str) or not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: object) -> object:
    """Keep the first 3 and last 4 digits of numbers with at least 8 characters, mask the rest."""
    if not isinstance(phone, str) or not phone:
        return phone
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(number: object) -> object:
    """Keep the 6-digit region code and the last 4 characters: ``150502********1234``."""
    if not isinstance(number, str) or not number:
        return number
    if len(number) < 11:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


_MASKERS = {
    "party_name": mask_name,
    "party_phone": mask_phone,
    "party_id_number": mask_id_number,
    "name": mask_name,
    "phone": mask_phone,
    "id_number": mask_id_number,
}


def mask_frame(frame: pd.DataFrame, fields: Iterable[str]) -> pd.DataFrame:
    """A copy of ``frame`` with the personal ``fields`` present in it masked."""
    out = frame.copy()
    for col in fields:
        if col in out.columns:
            out[col] = out[col].map(_MASKERS[col])
    return out


def _mask_middle(match: re.Match) -> str:
    return match.group("head") + re.sub(r"\d", "*", match.group("body")) + match.group("tail")


def scrub_text(text: str) -> str:
    """Mask every ID number, mobile and landline number found in free text (any common format:
    separators, +86/0086 prefixes, area codes, a trailing X); the layout of the text is kept."""
    for pattern in (_ID_NUMBER, _PHONE, _LANDLINE):
        text = pattern.sub(_mask_middle, text)
    return text


class PersonalDataFilter(logging.Filter):
    """Rewrites log records so phone and ID numbers never reach a log file.

    Installed on the uvicorn loggers (the access log prints paths with query strings)
    and on gridmap's own loggers; it never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub_text(record.msg)
        if record.args:
            if isinstance(record.args, dict):
                record.args = {k: scrub_text(v) if isinstance(v, str) else v for k, v in record.args.items()}
            else:
                record.args = tuple(scrub_text(a) if isinstance(a, str) else a for a in record.args)
        return True


LOGGERS_TO_SCRUB = ("uvicorn", "uvicorn.access", "uvicorn.error", "gridmap", "api", "")


def install_log_filter() -> PersonalDataFilter:
    """Attach one :class:`PersonalDataFilter` to the uvicorn, gridmap and root loggers and handlers.

    A filter on a logger only sees records logged on that logger, so it also goes on the
    handlers of those loggers (which see propagated records).  Idempotent.
    """
    existing = getattr(install_log_filter, "_filter", None)
    filt = existing or PersonalDataFilter()
    install_log_filter._filter = filt  # type: ignore[attr-defined]
    for name in LOGGERS_TO_SCRUB:
        logger = logging.getLogger(name)
        if filt not in logger.filters:
            logger.addFilter(filt)
        for handler in logger.handlers:
            if filt not in handler.filters:
                handler.addFilter(filt)
    return filt
