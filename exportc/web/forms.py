"""The start form, generated from a compiled profile, and the parsing of what was submitted.

Fields: the window (named after the profile's window field), test or production, "run at",
every param as an input that fits its type, and ``run.booking_date`` / ``run.description`` where
the profile uses them. Params the project binds in exportc.toml are not asked. Parsing returns
either the run's options or a message per bad field, and nothing starts while there is one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from exportc.artefact import Artefact, ParamSpec
from exportc.runtime.execute import RunOptions, parse_param
from exportc.runtime.kinds import RunMode
from exportc.values import format_value
from exportc.web.catalog import Entry
from exportc.web.i18n import N_


@dataclass
class Field:
    """One input of the start form."""

    name: str  # the form field's name
    label: str
    kind: str  # date, datetime, mode, bool, number, text, list
    value: Any = ""
    help: str | None = None
    required: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    type_name: str = ""


def uses_run_field(artefact: Artefact, name: str) -> bool:
    """Whether the profile reads ``run.<name>`` (the compiler lists them in the artefact)."""
    return name in artefact.run_fields


def window_field(artefact: Artefact) -> str | None:
    return next((s.window for s in artefact.sources.values() if s.window), None)


def asked_params(entry: Entry) -> list[ParamSpec]:
    assert entry.artefact is not None
    bound = entry.binding.params if entry.binding else {}
    return [p for p in entry.artefact.params if p.name not in bound]


def fields(entry: Entry, values: dict[str, Any] | None = None) -> list[Field]:
    """The form's fields, filled with ``values`` (what was submitted) or the defaults."""
    a = entry.artefact
    assert a is not None
    v = values or {}
    window = window_field(a)
    out = [Field("from", N_("From"), "date", v.get("from", ""), window),
           Field("to", N_("To"), "date", v.get("to", ""), window),
           Field("mode", N_("Kind of run"), "mode", v.get("mode", "test")),
           Field("at", N_("Run at"), "datetime", v.get("at", ""), N_("Empty: now. A later moment schedules the run."))]
    if uses_run_field(a, "booking_date"):
        out.append(Field("booking_date", N_("Booking date"), "date", v.get("booking_date", "")))
    if uses_run_field(a, "description"):
        out.append(Field("description", N_("Description"), "text", v.get("description", "")))
    for p in asked_params(entry):
        out.append(_param_field(p, v))
    return out


def _param_field(p: ParamSpec, v: dict[str, Any]) -> Field:
    name = f"param.{p.name}"
    t = p.type
    default = "" if not p.has_default else _text(p.default)
    kind = {"bool": "bool", "int": "number", "decimal": "number", "date": "date",
            "datetime": "datetime", "list": "list"}.get(t.name, "text")
    value: Any = v.get(name, default)
    if kind == "list" and not isinstance(value, list):
        value = [x for x in str(value).split(",") if x]
    f = Field(name, p.name, kind, value, p.description, required=not p.has_default, type_name=str(t))
    if kind == "bool":
        f.choices = ([] if p.has_default else [("", "—")]) + [("true", N_("yes")), ("false", N_("no"))]
    return f


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_text(x) for x in value)
    if value is None:
        return ""
    return format_value(value)


def submitted(form: Any) -> dict[str, Any]:
    """The form's values: text fields as text, list fields as lists without empty entries."""
    values: dict[str, Any] = {}
    for key in {k for k in form if k != "csrf"}:
        items = [str(x).strip() for x in form.getlist(key)]
        values[key] = [x for x in items if x] if len(items) > 1 or key.endswith("[]") else items[0]
    return {k.removesuffix("[]"): v for k, v in values.items()}


@dataclass
class Parsed:
    opts: RunOptions | None
    at: dt.datetime | None
    errors: dict[str, str]  # field name -> message (English; translated where shown)


def parse(entry: Entry, values: dict[str, Any], now: dt.datetime) -> Parsed:
    """Check every field; the run's options only when all are good (the run writes into its own
    folder in the project's run store)."""
    a = entry.artefact
    assert a is not None
    errors: dict[str, str] = {}
    days = {k: _day(values.get(k, ""), k, errors) for k in ("from", "to", "booking_date")}
    if days["from"] and days["to"] and days["from"] > days["to"]:
        errors["to"] = N_("The end of the window is before its start.")
    at = None
    if values.get("at"):
        try:
            at = dt.datetime.fromisoformat(values["at"])
        except ValueError:
            errors["at"] = N_("Give a date and time.")
        else:
            if at <= now:
                errors["at"] = N_("This moment has passed; leave it empty to run now.")
    mode = values.get("mode", "test")
    if mode not in ("test", "production"):
        errors["mode"] = N_("Choose test or production.")
    params: dict[str, str] = {}
    for p in asked_params(entry):
        raw = values.get(f"param.{p.name}", "")
        raw = ",".join(raw) if isinstance(raw, list) else str(raw)
        if raw == "" and p.has_default:
            continue  # the profile's default
        if raw == "" and not p.type.nullable:
            errors[f"param.{p.name}"] = N_("Required.")
            continue
        try:
            parse_param(raw, p.type)
        except (ValueError, TypeError) as exc:
            errors[f"param.{p.name}"] = str(exc)
        params[p.name] = raw
    allow = str(values.get("allow_deletions") or "").strip()
    if allow and not allow.isdigit():
        errors["allow_deletions"] = N_("Give a whole number.")
    if errors:
        return Parsed(None, at, errors)
    # The guards a production run asks for explicitly (exportc.runtime.production.preflight).
    opts = RunOptions(sources={}, params=params, date_from=days["from"], date_to=days["to"],
                      booking_date=days["booking_date"], description=values.get("description") or None,
                      mode=RunMode(mode), whole=values.get("all") == "yes",
                      first_delivery=values.get("first_delivery") == "yes",
                      allow_deletions=int(allow) if allow else None, zip=values.get("zip") == "yes")
    return Parsed(opts, at, {})


def _day(text: str, name: str, errors: dict[str, str]) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors[name] = N_("Give a date (YYYY-MM-DD).")
        return None
