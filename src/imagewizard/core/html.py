"""Self-contained HTML pages (the demo's and the benchmark's): one style, figures embedded as
base64 PNG so that a page opens anywhere, offline, as a single file.

>>> page("T", ["<p>hi</p>"]).startswith("<!doctype html>")
True
>>> table(["a", "b"], [[1, "<x>"]])
'<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>&lt;x&gt;</td></tr></table>'
"""

from __future__ import annotations

import base64
import html
from typing import Iterable, Sequence

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:auto;
padding:1em 1.5em;color:#222}
h1{font-size:1.5em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{padding:3px 9px;border-bottom:1px solid #e3e3e3;
text-align:right;font-variant-numeric:tabular-nums}td:first-child,th:first-child{text-align:left}
th{background:#f4f4f4}tr.input td{color:#666;font-style:italic}tr.published td{color:#555}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:.92em}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}img{max-width:100%}.caption{font-size:.9em;color:#444}
td.src,th.src{text-align:left}td.src{font-size:.85em;max-width:420px}
"""

escape = html.escape


def page(title: str, parts: Iterable[str], *, css: str = CSS) -> str:
    """A whole page: ``title`` as its title and first heading, then ``parts`` (HTML, already escaped)."""
    head = (
        f"<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width,initial-scale=1'><title>{escape(title)}</title><style>{css}</style></head><body>"
    )
    return "\n".join([head, f"<h1>{escape(title)}</h1>", *parts, "</body></html>"])


def img_tag(png: bytes, alt: str) -> str:
    """An ``<img>`` holding ``png`` itself (base64), so the page needs no other file."""
    return f"<img alt='{escape(alt)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def table(
    head: Sequence[str],
    body: Iterable[Sequence[object]],
    classes: Sequence[str] | None = None,
    col_class: dict[int, str] | None = None,
) -> str:
    """A table; cells are escaped; ``classes`` gives each body row a class, ``col_class`` a column's cells one."""
    col_class = col_class or {}

    def cell(tag: str, j: int, value: object) -> str:
        open_ = f"<{tag} class='{col_class[j]}'>" if j in col_class else f"<{tag}>"
        return open_ + escape(str(value)) + f"</{tag}>"

    parts = ["<table><tr>" + "".join(cell("th", j, h) for j, h in enumerate(head)) + "</tr>"]
    for i, row in enumerate(body):
        cls = f" class='{classes[i]}'" if classes and classes[i] else ""
        parts.append(f"<tr{cls}>" + "".join(cell("td", j, c) for j, c in enumerate(row)) + "</tr>")
    parts.append("</table>")
    return "".join(parts)
