"""Text from data, configs and job files made inert in the files people open: Markdown (summary.md,
model_card.md), links (summary.md, report.html) and CSV cells a spreadsheet would evaluate (every CSV
medsweep writes). One escaper per kind, shared by every writer, so the files cannot drift apart.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import quote

if TYPE_CHECKING:  # pandas is slow to import; only the CSV writers need it, and they have it already
    import pandas as pd

# -- One line of text (terminal, summaries) ------------------------------------------------------------------

# C0 and C1 control characters left after whitespace is folded: an ESC in an error text or a column name would
# otherwise drive the terminal that prints it (colours, cursor moves, a retitled window).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line(x: Any, limit: Optional[int] = None) -> str:
    """``x`` as one line of plain text: whitespace folded, control characters shown as ``\\xNN``, cut to
    ``limit`` characters (the last one an ellipsis)."""
    line = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", " ".join(str(x).split()))
    return line if limit is None or len(line) <= limit else line[: limit - 1] + "…"


# -- Markdown and links ------------------------------------------------------------------------------------


def md_text(x: Any) -> str:
    """Data-derived text (column names, classes, errors, paths) as inert Markdown, shown as written: HTML
    escaped (a column named ``<img onerror=...>`` is shown, not rendered), on one line, with the characters
    that would start emphasis, code, a link or image (``![px](http://host/pixel.png)``) or a table cell
    escaped."""
    text = html.escape(" ".join(str(x).split()), quote=False)
    return re.sub(r"([\\`*_\[\]|~])", r"\\\1", text)


def md_code(x: Any) -> str:
    """A code span (inert: Markdown and HTML inside it are shown) that its content cannot close: a fence
    longer than any run of backticks in it; ``|`` escaped so a table cell is not broken."""
    text = " ".join(str(x).split()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def link(path: Any) -> str:
    """A relative path for a Markdown link destination or an HTML href/src: percent-encoded, so it holds
    only letters, digits, ``/`` and ``%_.-~``. A sweep.json ``dir`` of ``x) <img onerror=...>`` or
    ``javascript:...`` stays a harmless relative link that ends where it should."""
    return quote(str(path), safe="/")


# -- CSV cells (OWASP CSV injection) -----------------------------------------------------------------------

# A text cell starting with one of these is evaluated as a formula by spreadsheet programs.
FORMULA_START = "=+-@\t\r"
_FORMULA = re.compile(rf"'*[{re.escape(FORMULA_START)}]")
_QUOTED = re.compile(rf"'+[{re.escape(FORMULA_START)}]")
# A plain decimal number ("-12", "+0.5", "-1e5"): a spreadsheet reads it as that number, never a formula.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: Any) -> Any:
    """``value`` safe to open in a spreadsheet: a text cell that would be evaluated (starting with ``=``,
    ``+``, ``-``, ``@``, tab or carriage return) gets a leading single quote; numbers (and text that is a
    plain number, such as the patient id "-12") are left as they are. Text already starting with quotes
    before such a character gets one more, so :func:`csv_text` gives every value back exactly."""
    if isinstance(value, str) and _FORMULA.match(value) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_text(value: Any) -> Any:
    """The value :func:`csv_cell` was given (what a reader of medsweep's CSVs should compare)."""
    if isinstance(value, str) and _QUOTED.match(value):
        return value[1:]
    return value


def _text_columns(frame: "pd.DataFrame") -> list[int]:
    import pandas as pd

    return [i for i, dtype in enumerate(frame.dtypes)
            if dtype == object or isinstance(dtype, (pd.StringDtype, pd.CategoricalDtype))]


def _map_column(column: "pd.Series", fn) -> "pd.Series":
    """``fn`` applied to each distinct text value of ``column`` (ids and labels repeat: a million rows have few
    distinct values), the column itself returned where no value changes."""
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.rename_categories(fn)  # fn is one-to-one: categories stay distinct
    try:
        values = pd.unique(column)
    except TypeError:  # unhashable cells (lists): value by value
        return column.map(fn)
    changed = {v: fn(v) for v in values if isinstance(v, str) and fn(v) != v}
    if not changed:
        return column
    return column.where(~column.isin(list(changed)), column.map(changed))


def csv_safe(frame: "pd.DataFrame") -> "pd.DataFrame":
    """``frame`` with :func:`csv_cell` applied to every text cell and column name (numeric columns are not
    touched, nor copied); ``frame`` itself is unchanged."""
    out = frame.copy(deep=False)
    out.columns = [csv_cell(c) for c in frame.columns]
    for i in _text_columns(frame):
        out.isetitem(i, _map_column(frame.iloc[:, i], csv_cell))
    return out


def csv_restored(frame: "pd.DataFrame") -> "pd.DataFrame":
    """The inverse of :func:`csv_safe` on a frame read back from a CSV (see ``outputs.read_csv``)."""
    out = frame.copy(deep=False)
    out.columns = [csv_text(c) for c in frame.columns]
    for i in _text_columns(frame):
        out.isetitem(i, _map_column(frame.iloc[:, i], csv_text))
    return out
