"""The dialplan lines of services.yml (paging groups, intercoms, conference rooms): pure,
written in the numbers contexts beside the phones' and groups' routes (docs/services.md).

    paging      Page() of every phone, options b() (the auto-answer request on each callee's
                INVITE), s (only a phone whose device state is NOT_INUSE: a phone in a call
                is skipped, never barged in on), i (a phone's redirect is ignored); one-way:
                Page() puts the paged phones into its bridge muted.
    intercom    Dial() of the other phone with the same b(); only the pair's two phones may
                dial the number (403 for anyone else), each reaches the other.
    conference  ConfBridge() with televoc's profiles (confbridge.conf); a room with a PIN
                uses its own user profile, which sets `pin=` and lives in the PINs file
                outside the Nix store (render_pins): ConfBridge asks for it (three tries).
                The PIN itself is never in the dialplan.

A call from the trunk has no caller extension (TV_FROM is empty): it never pages or uses an
intercom; it may join a conference room (with its PIN).
"""

from __future__ import annotations

from roles.event import Directory
from roles.event.model import Conference, Intercom, Paging
from roles.shared import names
from roles.shared.templating import render

from .causes import CAUSES, ROUTE_END

PREDIAL = f"b({names.AUTOANSWER_CONTEXT}^s^1)"


def paging_lines(p: Paging) -> str:
    dial = "&".join(f"PJSIP/{name}" for name, _ in p.phones)
    who = ", ".join(name for name, _ in p.phones)
    if p.callers is None:
        check = f'exten => {p.number},1,GotoIf($["${{TV_FROM}}" != "" & "${{TV_FROM_TRUNK}}" != "1"]?page)\n'
        refused = "a call from outside"
    else:
        allowed = f"${{DIALPLAN_EXISTS({names.PAGE_CALLERS_PREFIX}{p.number},${{TV_FROM}},1)}}"
        check = f'exten => {p.number},1,GotoIf($["${{TV_FROM_TRUNK}}" != "1" & {allowed}]?page)\n'
        refused = "this caller"
    lines = [
        f'; {p.number}: paging {p.name} "{p.display_name}", one-way, answered at once by '
        f"{len(p.phones)} phones: {who}\n",
        check,
        f" same => n,Hangup({CAUSES.rejected})  ; 403: {refused} may not page\n",
    ]
    if p.phones:
        lines.append(f" same => n(page),Page({dial},{PREDIAL}is)\n")
    else:
        lines.append(f" same => n(page),Hangup({CAUSES.no_answer})  ; no phone to page: 480\n")
    lines.append(" same => n,Hangup()\n")
    return "".join(lines)


def intercom_lines(i: Intercom, timeout: int) -> str:
    """`timeout`: how long the other phone rings when it does not answer by itself."""
    (a, a_ext), (b, b_ext) = i.ends
    return "".join(
        [
            f"; {i.number}: intercom {i.name}: {a} ({a_ext}) <-> {b} ({b_ext}), both ways, answered at once\n",
            f'exten => {i.number},1,GotoIf($["${{TV_FROM}}" = "{a_ext}"]?to-b)\n',
            f' same => n,GotoIf($["${{TV_FROM}}" = "{b_ext}"]?to-a)\n',
            f" same => n,Hangup({CAUSES.rejected})  ; 403: only {a} and {b} use this intercom\n",
            f" same => n(to-b),Dial(PJSIP/{b},{timeout},{PREDIAL})\n",
            ROUTE_END,
            f" same => n(to-a),Dial(PJSIP/{a},{timeout},{PREDIAL})\n",
            ROUTE_END,
        ]
    )


def conference_lines(c: Conference) -> str:
    lines = [
        f'; {c.number}: conference room {c.name} "{c.display_name}"{", with a PIN" if c.pin else ""}\n',
        f"exten => {c.number},1,Answer()\n",
    ]
    # (a room with a PIN whose profile Asterisk lacks, the PINs file missing, lets nobody in:
    # ConfBridge() refuses an unknown profile and the call ends)
    user = f"{names.ROOM_PIN_PROFILE_PREFIX}{c.name}" if c.pin else names.ROOM_USER_PROFILE
    lines.append(f" same => n,ConfBridge({c.name},{names.ROOM_BRIDGE_PROFILE},{user})\n")
    lines.append(" same => n,Hangup()\n")
    return "".join(lines)


def render_pins(directory: Directory) -> str:
    """The PINs file (confbridge.conf includes it; root:asterisk 0640, outside the
    world-readable Nix store, like the SIP passwords): one user profile per room with a PIN,
    televoc's participant profile plus `pin=`. Empty when no room has a PIN (no file then)."""
    rooms = [c for c in directory.services.conferences if c.pin]
    if not rooms:
        return ""
    return render(__file__, "confbridge-pins.conf.j2", names=names, event=directory.event, rooms=rooms)


def service_lines(directory: Directory) -> list[tuple[str, str]]:
    """(number, its lines) for every service of the directory, in the file's order."""
    s = directory.services
    return [
        *((p.number, paging_lines(p)) for p in s.paging),
        *((i.number, intercom_lines(i, directory.event.ring_timeout)) for i in s.intercoms),
        *((c.number, conference_lines(c)) for c in s.conferences),
    ]


def page_callers(directory: Directory) -> dict[str, tuple[str, ...]]:
    """Paging number -> the extensions that may page it (only groups that name callers)."""
    return {p.number: p.callers for p in directory.services.paging if p.callers is not None}
