"""The validated entries assembled into the model every renderer takes: the phones' accounts
with their passwords settled (given, or derived from the event secret), the groups, the
trunk with the phones that may call out, the password each pair of venues shares."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import TypeAdapter

from . import services as services_file
from .entries import BaseView, GroupView, PhoneView
from .model import Account, AnnouncementAudio, DectBase, Directory, Event, Group, TrunkAccount, ring_seconds
from .routing import callers
from .secret import derive_password
from .venues import peer_key

# All accounts in one call (for 10,000 phones, faster than one call each).
_ACCOUNTS = TypeAdapter(tuple[Account, ...])


def directory(
    event: Event,
    phones: list[PhoneView],
    groups: list[GroupView],
    secret: str | None,
    trunk_password: str | None,
    bases: Sequence[BaseView] = (),
    announcements: Sequence[AnnouncementAudio] = (),
    services: Sequence[services_file.ServiceView] = (),
) -> Directory:
    """The Directory of valid entries. `secret`: the event secret (None when nothing is
    derived from it); `trunk_password`: read from its file when the event has a trunk;
    `bases`: the DECT base stations of dect.yml; `announcements`: checked and converted;
    `services`: the entries of services.yml."""
    name = event.name

    def derived(label: str) -> str:
        if secret is None:
            raise ValueError(f"no event secret to derive {label} from")
        return derive_password(secret, name, label)

    accounts = _ACCOUNTS.validate_python(
        [
            {
                "name": p.name,
                "extension": p.extension,
                "display_name": p.display_name or p.name,
                "password": p.password or derived(p.name),
                "contact": p.contact,
                "mac": p.mac,
                "model": p.model,
                "ringer": p.ringer,
                "group_ringer": p.group_ringer,
                "loud_from": tuple(p.loud_from),
                "loud_ringer": p.loud_ringer,
                "pickup": p.pickup,
                "forward": p.forward,
                "location": p.location,
                "in_directory": p.in_directory,
                "address": p.address,
                "web_password_before": p.web_password_before,
                "event_web_password": derived(f"web/{p.name}") if p.mac else None,
                "base": p.base,
                "slot": p.slot,
                "ipei": p.ipei,
            }
            for p in (v.entry for v in phones)
            if p is not None
        ]
    )
    built = tuple(
        Group.model_construct(  # every value validated (GroupEntry)
            name=g.name,
            number=g.number,
            display_name=g.display_name or g.name,
            short=g.short or (g.display_name or g.name)[:12].strip(),
            timeout=ring_seconds(event.ring_timeout, timeout=g.timeout),
            members=tuple(g.members),
            forward=g.forward,
            location=g.location,
            in_directory=g.in_directory,
        )
        for g in (v.entry for v in groups)
        if g is not None
    )
    trunk = None
    if event.trunk is not None and trunk_password is not None:
        trunk = TrunkAccount(
            trunk=event.trunk, password=trunk_password, callers=callers(accounts, built, event.trunk.dial_out)
        )
    venues = list(event.venues)
    peer_passwords = tuple(
        (peer_key(a, b), derived(peer_key(a, b))) for i, a in enumerate(venues) for b in venues[i + 1 :]
    )
    # a base's web password: its label has a '/' no phone name has, so it is no phone's
    dect = tuple(
        DectBase(
            name=b.name,
            model=b.model,
            mac=b.mac,
            location=b.location,
            primary=b.primary,
            web_password=derived(f"base-web/{b.name}"),
        )
        for b in (v.entry for v in bases)
        if b is not None
    )
    return Directory(
        event=event,
        accounts=accounts,
        groups=built,
        trunk=trunk,
        peer_passwords=peer_passwords,
        bases=dect,
        announcements=tuple(announcements),
        services=services_file.resolve(accounts, built, services),
    )
