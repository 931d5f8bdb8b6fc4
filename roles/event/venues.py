"""Several venues, one PBX each: the Directory a venue's PBX serves.

`venue_directory(directory, name)` keeps the phones and groups whose numbers begin with one of
the venue's prefixes (and the DECT bases of its handsets, with their secondaries), the trunk
when it is registered there (else, with a trunk at another venue, `DialOutVia`: this venue's
phones call out over the peering to that venue's PBX), and
for every other venue a `Peer` (its address, its prefixes, the password the two PBXes share,
derived from the event secret). The dialplan sends a number of another venue to its PBX;
forwards may name phones and groups of other venues (`VenueView.remote`). Without venues, the
directory is the PBX's.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import EventError
from .model import DialOutVia, Directory, Peer, Services, Venue, VenueView
from .routing import loud_callers


def peer_key(a: str, b: str) -> str:
    """The derivation label of the password venues a and b share (the same from both ends)."""
    first, second = sorted((a, b))
    return f"venue/{first}/{second}"


def venue_of(number: str, venues: Mapping[str, Venue]) -> str | None:
    """The venue whose prefixes `number` starts with (prefixes never overlap), or None."""
    return next((name for name, v in venues.items() if any(number.startswith(p) for p in v.numbers)), None)


def venue_directory(directory: Directory, name: str | None) -> Directory:
    """The Directory venue `name`'s PBX serves; EventError naming the fix when `name` is not
    a venue of the event (or missing while the event has venues)."""
    venues = directory.event.venues
    if not venues:
        if name is not None:
            raise EventError(
                [
                    f"the host's televoc_venue is {name!r}, but event.yml declares no venues: "
                    "delete televoc_venue from inventory.py, or declare venues"
                ]
            )
        return directory
    if name not in venues:
        what = f"televoc_venue {name!r} is no venue of the event" if name else "the host has no televoc_venue"
        raise EventError(
            [
                f"{what}: event.yml declares venues ({', '.join(venues)}), so each PBX host in "
                "inventory.py names its venue, e.g. 'televoc_venue': " + repr(next(iter(venues)))
            ]
        )
    passwords = dict(directory.peer_passwords)
    peers = tuple(
        Peer(name=other, address=v.address, numbers=v.numbers, password=passwords[peer_key(name, other)])
        for other, v in venues.items()
        if other != name
    )
    mine = [a for a in directory.accounts if venue_of(a.extension, venues) == name]
    groups = [g for g in directory.groups if venue_of(g.number, venues) == name]
    remote = tuple((a.name, a.extension) for a in directory.accounts if venue_of(a.extension, venues) != name)
    remote += tuple((g.name, g.number) for g in directory.groups if venue_of(g.number, venues) != name)
    remote += tuple((a.name, a.number) for a in directory.announcements if venue_of(a.number, venues) != name)
    trunk = directory.trunk if directory.trunk is not None and directory.trunk.trunk.venue == name else None
    extensions = {a.extension for a in mine}
    dial_out = None
    if directory.trunk is not None and trunk is None:  # out over the peering to the trunk's venue
        t = directory.trunk
        dial_out = DialOutVia(
            venue=t.trunk.venue or "",
            prefix=t.trunk.dial_out_prefix,
            callers=tuple(c for c in t.callers if c in extensions),
        )
    # loud_from may name callers of other venues: resolved on the whole event
    loud = tuple((ext, callers) for ext, callers in loud_callers(directory).items() if ext in extensions)
    # a base goes with its handsets (the load keeps them in one venue), a secondary with its primary
    served = {a.base for a in mine if a.base is not None}
    bases = tuple(b for b in directory.bases if (b.primary or b.name) in served)
    s = directory.services

    def here(items):  # a service is served by the PBX of its number's venue
        return tuple(x for x in items if venue_of(x.number, venues) == name)

    services = Services(paging=here(s.paging), intercoms=here(s.intercoms), conferences=here(s.conferences))
    return directory.model_copy(
        update={
            "services": services,
            "accounts": tuple(mine),
            "groups": tuple(groups),
            "bases": bases,
            "announcements": tuple(a for a in directory.announcements if venue_of(a.number, venues) == name),
            "trunk": trunk,
            "venue": VenueView(
                name=name, numbers=venues[name].numbers, peers=peers, remote=remote, loud=loud, dial_out=dial_out
            ),
        }
    )
