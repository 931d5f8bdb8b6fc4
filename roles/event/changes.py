"""What changed about each phone since the last run: pure, no host.

The PBX keeps a summary of every phone as the last run left it (no password, only a
fingerprint of it); the run compares the directory with it and says, per phone, what it adds,
removes or changes, before applying (with --dry or --diff) and after.
"""

from __future__ import annotations

import hashlib
import json

from .model import Directory, Forward

FIELDS = (
    "extension",
    "display_name",
    "mac",
    "model",
    "ringer",
    "address",
    "contact",
    "forward",
    "pickup",
    "loud_from",
    "members",
    "callers",
    "timeout",
    "password",
    "pin",
)
SECRET_FIELDS = ("password", "pin")  # said as their name only, never their value
GROUP = "group "  # a group's key in the summary: "group infodesk" (no phone name has a space)


def _forward(forward: Forward | None) -> str | None:
    """'no_answer: backoffice after 15 s, busy: saal2' (None: no forward)."""
    if forward is None or not forward.targets():
        return None
    after = f" after {forward.no_answer_after} s" if forward.no_answer_after else ""
    return ", ".join(f"{kind}: {target}{after if kind == 'no_answer' else ''}" for kind, target in forward.targets())


def summary(directory: Directory) -> dict[str, dict]:
    """name -> the fields a crew sets, the password as a fingerprint (never the password);
    groups as "group <name>". A field that is not set is left out (a summary recorded before
    it existed reads the same)."""
    phones: dict[str, dict[str, object]] = {}
    for a in directory.accounts:
        phones[a.name] = {
            "extension": a.extension,
            "display_name": a.display_name,
            "mac": a.mac,
            "model": a.model,
            "ringer": a.ringer if a.mac else None,
            "address": a.address,
            "contact": a.contact,
            "password": hashlib.sha256(f"{a.name}\0{a.password}\0{a.event_web_password or ''}".encode()).hexdigest()[
                :16
            ],
        }
        routing = {"forward": _forward(a.forward), "pickup": a.pickup, "loud_from": ", ".join(a.loud_from) or None}
        phones[a.name].update({k: v for k, v in routing.items() if v is not None})
    for g in directory.groups:
        members = ", ".join(
            f"{m.name}{f' after {m.delay} s' if m.delay else ''}{' (paused)' if m.paused else ''}" for m in g.members
        )
        group: dict[str, object] = {
            "extension": g.number,
            "display_name": g.display_name,
            "members": members,
            "timeout": g.timeout,
            "forward": _forward(g.forward),
        }
        phones[GROUP + g.name] = {k: v for k, v in group.items() if v is not None}
    _services(directory, phones)
    return phones


def _services(directory: Directory, phones: dict[str, dict]) -> None:
    """services.yml in the summary: "paging <name>", "intercom <name>", "room <name>" (no
    phone name has a space); a room's PIN as a fingerprint."""
    s = directory.services
    for p in s.paging:
        phones[f"paging {p.name}"] = {
            "extension": p.number,
            "display_name": p.display_name,
            "members": ", ".join(name for name, _ in p.phones),
            **({"callers": ", ".join(p.callers)} if p.callers is not None else {}),
        }
    for i in s.intercoms:
        (a, _), (b, _) = i.ends
        phones[f"intercom {i.name}"] = {"extension": i.number, "members": f"{a} <-> {b}"}
    for c in s.conferences:
        pin = hashlib.sha256(f"{c.name}\0{c.pin}".encode()).hexdigest()[:16] if c.pin else None
        phones[f"room {c.name}"] = {
            "extension": c.number,
            "display_name": c.display_name,
            **({"pin": pin} if pin else {}),
        }


def summary_text(phones: dict[str, dict]) -> str:
    """The summary as the PBX keeps it: one line of JSON per phone (the C encoder: fast; one
    encoder for every line: json.dumps makes one per call, a quarter of the time)."""
    encode = _LINE.encode
    lines = [encode({"version": 1})]
    lines += [encode({name: phones[name]}) for name in sorted(phones)]
    return "\n".join(lines) + "\n"


_LINE = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def parse_summary(lines: list[str] | None) -> dict[str, dict] | None:
    """The recorded summary, None when there is none (or it cannot be read: then every phone
    counts as new, which says too much rather than too little)."""
    if not lines:
        return None
    try:
        if json.loads(lines[0]) != {"version": 1}:
            return None
        phones = {}
        for line in lines[1:]:
            if line.strip():
                phones.update(json.loads(line))
    except (ValueError, TypeError, AttributeError):
        return None
    return phones


def account(old: dict[str, dict] | None, new: dict[str, dict], told: tuple[str, ...] = ()) -> list[str]:
    """One line per phone that is added, removed or changed (which fields: the new values,
    except the password), then the phones told to fetch their settings."""
    old = old or {}
    lines = []
    added = [n for n in new if n not in old]
    removed = [n for n in old if n not in new]
    for name in added:
        ext = new[name].get("extension")
        lines.append(f"+ {name} ({ext}): new" + (", provisioned" if new[name].get("mac") else ""))
    for name in removed:
        lines.append(f"- {name} ({old[name].get('extension')}): removed")
    for name, fields in new.items():
        if name not in old:
            continue
        changed = [f for f in FIELDS if old[name].get(f) != fields.get(f)]
        if changed:
            shown = [f"{f} {old[name].get(f)!r} -> {fields.get(f)!r}" if f not in SECRET_FIELDS else f for f in changed]
            lines.append(f"~ {name} ({fields.get('extension')}): " + ", ".join(shown))
    if told:
        lines.append(f"told to fetch their settings: {', '.join(told)}")
    return lines
