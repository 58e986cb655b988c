"""Reading a large import file chunk by chunk, in bounded memory (check-ins: a million rows).

:func:`stream_input` gives the file's name, checksum and reading notes, and an iterator of
:class:`~gridmap.imports.reading.InputTable` chunks of at most ``chunk_rows`` rows each, in
file order, with every cell as text — the same cells :func:`~gridmap.imports.reading.read_input`
gives for the whole file:

* CSV/TSV: one pass over the bytes computes the SHA-256 and detects the encoding as
  :func:`gridmap.loaders.decode_text` does (UTF-8 ± BOM, UTF-16 with BOM, else GB18030,
  labelled GBK when it is valid GBK); then pandas reads it in ``chunksize`` chunks.
* XLSX: openpyxl in ``read_only`` mode, formulas not evaluated — a formula cell is blank and
  marked (never read as a value), as in :func:`gridmap.loaders.read_table`.  The sheet is
  chosen, the title rows skipped and a merged (two-row) header joined as there; merged
  ranges are read from the sheet's XML.  The width of the table is set by the header and the
  first 200 rows.
* JSON cannot be read in pieces: it is read whole, as one chunk.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pandas as pd

from gridmap.errors import InputError
from gridmap.imports.reading import InputTable, _max_upload_bytes, read_input, too_big
from gridmap.loaders import (
    _DELIMITERS,
    CSV_AS_TEXT,
    LoadReport,
    _cell_text,
    _clean_columns,
    _text_kind,
    choose_sheet,
    xlsx_header,
)

#: rows per chunk: ~60 MB of working memory for check-ins, and few enough store round trips
CHUNK_ROWS = 100_000
_BLOCK = 1 << 20
#: rows looked at for a workbook's header and width
_HEAD_ROWS = 200


@dataclass
class TableStream:
    """A file being read in chunks: ``chunks`` yields InputTables (``offset`` = rows before)."""

    name: str
    sha256: str
    chunks: Iterator[InputTable]
    notes: list[str] = field(default_factory=list)
    encoding: str | None = None


def _open(
    source: str | Path | bytes, filename: str | None, max_bytes: int | None
) -> tuple[IO[bytes], str, int]:
    # an upload (bytes) is already in memory and keeps the upload limit; a file on disk is
    # read in chunks, so only an explicit max_bytes bounds it
    if max_bytes is None:
        max_bytes = _max_upload_bytes() if isinstance(source, bytes | bytearray) else 1 << 62
    if isinstance(source, bytes | bytearray):
        name, size = filename or "upload", len(source)
        handle: IO[bytes] = io.BytesIO(bytes(source))
    else:
        path = Path(source)
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        name, size = filename or path.name, path.stat().st_size
        handle = path.open("rb")
    if size > max_bytes:
        handle.close()
        raise InputError(too_big(name, size, max_bytes))
    return handle, name, size


def _scan_text(handle: IO[bytes], name: str, encoding: str | None) -> tuple[str, str, str, list[str]]:
    """One pass: (sha256, codec for reading, encoding label, notes); InputError as decode_text."""
    digest = hashlib.sha256()
    first = handle.read(_BLOCK)
    if not first.strip():
        raise InputError(f"{name}: the file is empty")
    notes: list[str] = []
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"{name}: unknown encoding {encoding!r} (use utf-8, gbk or gb18030)") from None
        candidates = [encoding]
    elif first.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
        notes.append("UTF-8 byte-order mark stripped")
    elif first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "gbk", "gb18030"]
    decoders = {c: codecs.getincrementaldecoder(c)() for c in candidates}
    failed: dict[str, int] = {}
    offset = 0
    block = first
    while block:
        digest.update(block)
        if "utf-16" not in candidates:
            nul = block.find(b"\x00")
            if nul >= 0:
                raise InputError(
                    f"{name}: binary data (NUL byte at offset {offset + nul}); expected a text CSV/JSON, "
                    "or an .xlsx workbook"
                )
        for codec, decoder in decoders.items():
            if codec in failed:
                continue
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                failed[codec] = offset + exc.start
        offset += len(block)
        block = handle.read(_BLOCK)
    for codec, decoder in decoders.items():
        if codec not in failed:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                failed[codec] = offset
    good = [c for c in candidates if c not in failed]
    if not good:
        if encoding:
            raise InputError(
                f"{name}: byte offset {failed[encoding]} is not {encoding}; drop --encoding to detect it"
            )
        if candidates[0] == "utf-8-sig":
            raise InputError(
                f"{name}: starts with a UTF-8 BOM but byte offset {failed['utf-8-sig']} is not UTF-8"
            )
        if candidates[0] == "utf-16":
            raise InputError(
                f"{name}: starts with a UTF-16 BOM but is not valid UTF-16 (offset {failed['utf-16']})"
            )
        raise InputError(
            f"{name}: undecodable text: byte offset {failed['utf-8']} is not UTF-8, and byte offset "
            f"{failed['gb18030']} is not GB18030/GBK; save the file as UTF-8"
        )
    label = good[0]
    if label in ("gbk", "gb18030") and not encoding:
        notes.append(f"decoded as {label.upper()} (not UTF-8)")
    codec = "gb18030" if label == "gbk" and not encoding else label  # GB18030 reads every GBK file
    return digest.hexdigest(), codec, label, notes


def _csv_chunks(
    handle: IO[bytes],
    name: str,
    size: int,
    sha256: str,
    codec: str,
    label: str,
    chunk_rows: int,
    notes: list[str],
) -> Iterator[InputTable]:
    handle.seek(0)
    head = handle.read(64 * 1024).decode(codec, errors="ignore").lstrip("\ufeff").lstrip("\r\n")
    first_line = head.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in _DELIMITERS}
    delimiter = max(_DELIMITERS, key=lambda d: counts[d]) if any(counts.values()) else ","
    if delimiter != ",":
        notes.append(f"columns separated by {delimiter!r}")
    handle.seek(0)
    text = io.TextIOWrapper(handle, encoding=codec, newline="")
    try:
        reader = pd.read_csv(text, sep=delimiter, chunksize=chunk_rows, **CSV_AS_TEXT)
        columns: list[str] | None = None
        offset = 0
        for raw in reader:
            if columns is None:
                report = LoadReport(source=name)
                header = pd.DataFrame(columns=[str(v) for v in raw.iloc[0].tolist()])
                columns = list(_clean_columns(header, report).columns)
                notes.extend(report.notes)
                raw = raw.iloc[1:]
            frame = raw.reset_index(drop=True)
            frame.columns = columns
            yield InputTable(
                frame=frame.fillna("").astype(str),
                name=name,
                sha256=sha256,
                notes=[],
                encoding=label,
                offset=offset,
                fraction=min(1.0, handle.tell() / max(size, 1)),
            )
            offset += len(frame)
        if columns is None:
            raise InputError(f"{name}: no header row (the file is empty or blank)")
    except pd.errors.EmptyDataError:
        raise InputError(f"{name}: no header row (the file is empty or blank)") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{name}: malformed CSV ({str(exc).strip()})") from None
    finally:
        text.detach()


_MERGE = re.compile(rb'<mergeCell ref="([A-Z]+[0-9]+):([A-Z]+[0-9]+)"')


def _merged_ranges(workbook, sheet) -> list[tuple[int, int, int, int]]:
    """(min_row, min_col, max_row, max_col), 0-based, of the sheet's merged cells (scanned from its XML)."""
    from openpyxl.utils.cell import range_boundaries

    out = []
    tail = b""
    with workbook._archive.open(sheet._worksheet_path) as xml:
        while block := xml.read(_BLOCK):
            data = tail + block
            for match in _MERGE.finditer(data):
                c0, r0, c1, r1 = range_boundaries(f"{match.group(1).decode()}:{match.group(2).decode()}")
                out.append((r0 - 1, c0 - 1, r1 - 1, c1 - 1))
            tail = data[-64:] if not data.endswith(b">") else b""
            # a match cut at the block end is found again with the tail; one found twice is harmless
    return sorted(set(out))


def _sheet_cells(sheet, merged: list[tuple[int, int, int, int]]) -> Iterator[tuple[list[str], list[int]]]:
    """Non-empty rows as (texts, formula column positions), merged ranges filled with their top-left text."""
    by_row: dict[int, list[tuple[int, int, int, int]]] = {}
    for r0, c0, r1, c1 in merged:
        for r in range(r0, r1 + 1):  # the whole range, as the whole-file reader fills it
            by_row.setdefault(r, []).append((r0, c0, r1, c1))
    top_left: dict[tuple[int, int], str] = {}
    for r, cells in enumerate(sheet.iter_rows()):
        texts, formulas = [], []
        for c, cell in enumerate(cells):
            if getattr(cell, "data_type", None) == "f":
                texts.append("")
                formulas.append(c)
            else:
                texts.append(_cell_text(cell.value))
        for r0, c0, _r1, c1 in by_row.get(r, ()):
            if r == r0:
                top_left[(r0, c0)] = texts[c0] if c0 < len(texts) else ""
            value = top_left.get((r0, c0), "")
            if len(texts) <= c1:
                texts += [""] * (c1 + 1 - len(texts))
            for c in range(c0, c1 + 1):
                texts[c] = value
        if any(t != "" for t in texts):
            yield texts, formulas


def _xlsx_chunks(
    handle: IO[bytes],
    name: str,
    size: int,
    sha256: str,
    sheet: str | int | None,
    chunk_rows: int,
    notes: list[str],
) -> Iterator[InputTable]:
    from openpyxl import load_workbook

    handle.seek(0)
    try:
        workbook = load_workbook(handle, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(
            f"{name}: not a readable .xlsx workbook ({str(exc).strip() or type(exc).__name__})"
        ) from None
    try:
        chosen = choose_sheet(workbook.worksheets, sheet, name, notes)
        rows = _sheet_cells(chosen, _merged_ranges(workbook, chosen))
        head: list[tuple[list[str], list[int]]] = []
        for item in rows:
            head.append(item)
            if len(head) >= _HEAD_ROWS:
                break
        if not head:
            raise InputError(f"{name}: sheet {chosen.title!r} is empty")
        head_formulas = {(r, c) for r, (_, cols) in enumerate(head) for c in cols}
        report = LoadReport(source=name)
        header, first_body = xlsx_header([texts for texts, _ in head], head_formulas, report)
        body_head = [texts for texts, _ in head[first_body:]]
        width = max(len(header), *(len(r) for r in body_head)) if body_head else len(header)
        while (
            width > 0
            and header[width - 1 : width] == [""]
            and all(len(r) < width or r[width - 1] == "" for r in body_head)
        ):
            width -= 1
        header = (header + [""] * width)[:width]
        frame = pd.DataFrame(columns=header)
        columns = list(_clean_columns(frame, report).columns)
        notes.extend(report.notes)

        def body() -> Iterator[tuple[list[str], list[int]]]:
            yield from head[first_body:]
            yield from rows

        offset = 0
        cells: list[list[str]] = []
        formulas: dict[int, list[str]] = {}
        for texts, formula_columns in body():
            used = [columns[c] for c in formula_columns if c < width]
            if used:
                formulas[len(cells)] = used
            cells.append((texts + [""] * width)[:width])
            if len(cells) >= chunk_rows:
                yield _chunk(cells, columns, formulas, name, sha256, offset)
                offset += len(cells)
                cells, formulas = [], {}
        if cells or not offset:
            yield _chunk(cells, columns, formulas, name, sha256, offset)
    finally:
        workbook.close()


def _chunk(
    cells: list[list[str]],
    columns: list[str],
    formulas: dict[int, list[str]],
    name: str,
    sha256: str,
    offset: int,
) -> InputTable:
    return InputTable(
        frame=pd.DataFrame(cells, columns=columns, dtype=str),
        name=name,
        sha256=sha256,
        formula_cells=formulas,
        encoding="xlsx",
        offset=offset,
        fraction=1.0,
    )


def _hash(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    handle.seek(0)
    while block := handle.read(_BLOCK):
        digest.update(block)
    return digest.hexdigest()


def stream_input(
    source: str | Path | bytes,
    filename: str | None = None,
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    max_bytes: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> TableStream:
    """Open a table file for reading in chunks (see the module doc).

    The file is checked (exists, not empty, within ``max_bytes`` — default: the upload limit
    for bytes, none for a file on disk, which is never held whole) and hashed before the
    first chunk; a decoding or format error of a later part surfaces while iterating.
    """
    handle, name, size = _open(source, filename, max_bytes)
    head = handle.read(4096)
    handle.seek(0)
    kind = _text_kind(head, name)
    if kind == "json":
        data = handle.read()
        handle.close()
        table = read_input(data, name, sheet=sheet, encoding=encoding, max_bytes=len(data) + 1)
        return TableStream(name, table.sha256, iter([table]), list(table.notes), table.encoding)
    notes: list[str] = []
    if kind == "xlsx":
        if not head.startswith(b"PK\x03\x04"):
            handle.close()
            raise InputError(f"{name}: not an .xlsx workbook (an .xlsx file is a zip archive)")
        sha256 = _hash(handle)
        chunks = _xlsx_chunks(handle, name, size, sha256, sheet, chunk_rows, notes)
        return TableStream(name, sha256, _closing(chunks, handle), notes, "xlsx")
    try:
        sha256, codec, label, notes = _scan_text(handle, name, encoding)
    except BaseException:
        handle.close()
        raise
    chunks = _csv_chunks(handle, name, size, sha256, codec, label, chunk_rows, notes)
    return TableStream(name, sha256, _closing(chunks, handle), notes, label)


def _closing(chunks: Iterator[InputTable], handle: IO[bytes]) -> Iterator[InputTable]:
    try:
        yield from chunks
    finally:
        handle.close()
