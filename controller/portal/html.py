"""HTML of the portal: the page frame, menus and form fields (server-rendered, escaped)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from controller.portal.fields import FieldSpec, form_text

MENU: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Configuration", (
        ("factory", "Factory Settings"),
        ("station", "Station Settings"),
        ("ocpp", "OCPP Settings"),
        ("communication", "Communication Settings"),
    )),
    ("Maintenance", (("maintenance", "Reboot, reset, serial, firmware"),)),
    ("EVSE Status", (("status", "EVSE Status"),)),
    ("LLM Status", (("llm", "LLM Status"),)),
    ("Security", (("security", "Security"),)),
)

CSS = """
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,sans-serif;color:#1d2630;background:#f3f5f7}
header{background:#12324a;color:#fff;padding:.6rem 1.2rem;display:flex;align-items:center;gap:1rem}
header h1{font-size:1.1rem;margin:0;flex:1}header form{margin:0}
header a,header button{color:#fff;background:none;border:1px solid #5d7f99;border-radius:4px;padding:.25rem .6rem;text-decoration:none;font-size:.9rem;cursor:pointer}
.wrap{display:flex;min-height:calc(100vh - 3rem)}
nav{width:15rem;background:#fff;border-right:1px solid #dde3e8;padding:1rem}
nav h2{font-size:.75rem;text-transform:uppercase;letter-spacing:.05em;color:#6b7a88;margin:1rem 0 .3rem}
nav a{display:block;padding:.25rem .5rem;color:#12324a;text-decoration:none;border-radius:4px}
nav a.on{background:#e3eef7;font-weight:600}
main{flex:1;padding:1.2rem 2rem;max-width:70rem}
section{background:#fff;border:1px solid #dde3e8;border-radius:6px;padding:1rem 1.2rem;margin-bottom:1.2rem}
section h2{margin:.1rem 0 .8rem;font-size:1.1rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:.6rem 1.4rem}
label{display:block;font-size:.85rem;color:#44525e}
input,select{font:inherit;padding:.3rem .4rem;border:1px solid #b8c4ce;border-radius:4px;width:100%}
input[type=checkbox]{width:auto}
.field.bad input,.field.bad select{border-color:#c62828;background:#fff5f5}
.err{color:#c62828;font-size:.82rem;margin-top:.15rem}
.unit{color:#6b7a88;font-size:.8rem}
button.primary{background:#1565c0;color:#fff;border:0;border-radius:4px;padding:.45rem 1.1rem;font:inherit;cursor:pointer;margin-top:.8rem}
button.danger{background:#c62828}
.flash{padding:.6rem .9rem;border-radius:5px;margin-bottom:1rem}
.flash.ok{background:#e6f4ea;border:1px solid #81c995}.flash.bad{background:#fdecea;border:1px solid #f28b82}
.flash.warn{background:#fff8e1;border:1px solid #ffd54f}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eef1f4;font-size:.9rem}
th{color:#44525e;font-weight:600}
.kv td:first-child{color:#44525e;width:16rem}
.big{font-size:1.6rem;font-weight:700}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(10rem,1fr));gap:.8rem}
.tile{background:#f7f9fb;border:1px solid #e3e8ec;border-radius:6px;padding:.6rem .8rem}
.tile span{display:block;font-size:.75rem;color:#6b7a88;text-transform:uppercase}
progress{width:100%;height:1.1rem}
.star{color:#c62828;font-weight:700}
svg text{font-size:11px;fill:#44525e}
.login{max-width:24rem;margin:5rem auto}
"""


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def page(
    title: str,
    body: str,
    *,
    active: str = "",
    user: str | None = None,
    role: str | None = None,
    csrf: str = "",
    flash: Iterable[tuple[str, str]] = (),
    scripts: bool = False,
    data: Mapping[str, Any] | None = None,
) -> str:
    """The whole page: header, menu (Security only for admin), flash messages and body."""
    nav = ""
    head_right = ""
    if user is not None:
        parts = []
        for group, items in MENU:
            if group == "Security" and role != "admin":
                continue
            parts.append(f"<h2>{e(group)}</h2>")
            for slug, label in items:
                cls = ' class="on"' if slug == active else ""
                parts.append(f'<a href="/portal/{slug}"{cls}>{e(label)}</a>')
        nav = f"<nav>{''.join(parts)}</nav>"
        head_right = (
            f'<span>{e(user)}</span><a href="/portal/password">Change password</a>'
            f'<form method="post" action="/portal/logout">{csrf_input(csrf)}'
            f'<button type="submit" id="logout">Log out</button></form>'
        )
    flashes = "".join(f'<div class="flash {e(kind)}">{msg}</div>' for kind, msg in flash)
    data_tag = ""
    if data is not None:
        blob = json.dumps(data).replace("</", "<\\/")
        data_tag = f'<script type="application/json" id="page-data">{blob}</script>'
    script = '<script src="/portal/static/portal.js" defer></script>' if scripts else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{e(title)} · MQ 200</title><style>{CSS}</style>{script}</head><body>"
        f"<header><h1>MQ 200 · {e(title)}</h1>{head_right}</header>"
        f'<div class="wrap">{nav}<main>{flashes}{body}</main></div>{data_tag}</body></html>'
    )


def csrf_input(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(token)}">'


def field_html(spec: FieldSpec, value: Any, error: str | None = None,
               raw: str | None = None, secret_set: bool = False) -> str:
    """One labelled input; ``raw`` is what the user typed (shown again after an error)."""
    text = raw if raw is not None else form_text(spec, value)
    star = ' <span class="star" title="needs a reboot">*</span>' if spec.reboot else ""
    unit = f' <span class="unit">{e(spec.unit)}</span>' if spec.unit else ""
    name = e(spec.name)
    dis = " disabled" if spec.readonly else ""
    if spec.kind == "bool":
        opts = "".join(
            f'<option value="{v}"{" selected" if text == v else ""}>{label}</option>'
            for v, label in (("on", "On"), ("off", "Off"))
        )
        control = f'<select name="{name}" id="f-{name}"{dis}>{opts}</select>'
    elif spec.kind == "choice":
        opts = "".join(
            f'<option{" selected" if text == c else ""}>{e(c)}</option>' for c in spec.choices
        )
        control = f'<select name="{name}" id="f-{name}"{dis}>{opts}</select>'
    elif spec.kind == "secret":
        hint = "set — leave empty to keep" if secret_set else "not set"
        control = (f'<input type="password" name="{name}" id="f-{name}" autocomplete="off" '
                   f'placeholder="{hint}"{dis}>')
    else:
        control = f'<input name="{name}" id="f-{name}" value="{e(text)}"{dis}>'
    err = f'<div class="err" id="err-{name}">{e(error)}</div>' if error else ""
    cls = "field bad" if error else "field"
    return f'<div class="{cls}"><label for="f-{name}">{e(spec.label)}{star}{unit}</label>{control}{err}</div>'


def form_section(
    title: str,
    action: str,
    csrf: str,
    specs: Iterable[FieldSpec],
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    raw: Mapping[str, str] | None,
    *,
    hidden: Mapping[str, str] | None = None,
    section_id: str = "",
) -> str:
    fields = "".join(
        field_html(s, values.get(s.name), errors.get(s.name),
                   None if raw is None or s.kind == "secret" else raw.get(s.name),
                   secret_set=bool(values.get(s.name)))
        for s in specs
    )
    extra = "".join(
        f'<input type="hidden" name="{e(k)}" value="{e(v)}">' for k, v in (hidden or {}).items()
    )
    sid = f' id="{e(section_id)}"' if section_id else ""
    return (
        f"<section{sid}><h2>{e(title)}</h2><form method=post action=\"{e(action)}\">"
        f'{csrf_input(csrf)}{extra}<div class="grid">{fields}</div>'
        f'<button class="primary" type="submit">Apply</button></form></section>'
    )


def kv_table(rows: Iterable[tuple[str, Any]], ids: Mapping[str, str] | None = None) -> str:
    cells = []
    for label, value in rows:
        ident = f' id="{e(ids[label])}"' if ids and label in ids else ""
        cells.append(f"<tr><td>{e(label)}</td><td{ident}>{e(value)}</td></tr>")
    return f'<table class="kv">{"".join(cells)}</table>'


def reboot_offer(csrf: str, names: Iterable[str]) -> str:
    listed = ", ".join(names)
    return (
        f"Saved. <b>{e(listed)}</b> take{'s' if ',' not in listed else ''} effect after a reboot. "
        f'<form method=post action="/portal/maintenance/reboot" style="display:inline">'
        f'{csrf_input(csrf)}<input type=hidden name=confirm value=yes>'
        f'<button class="primary" type=submit id="reboot-now">Reboot now</button></form>'
    )
