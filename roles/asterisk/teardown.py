"""What a teardown takes out of Asterisk, judged from what Asterisk lists. Pure: no host.

A teardown's config (render.render_teardown) has nothing of the event, so whatever Asterisk
still lists once it serves that config is left behind: every endpoint, auth, aor, identify,
outbound registration, contact, stored contact, dialplan context of extensions.conf and
dialplan global (roles/shared/pbxobjects.py). The trunk's registration is withdrawn first:
an un-REGISTER (Expires: 0) that the upstream confirms, before the object goes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from roles.shared.pbxobjects import KINDS, ONE, SEVERAL, Outbound, PbxObjects

# Asterisk's status of an outbound registration once the upstream answered its un-REGISTER
# with 2xx (res_pjsip_outbound_registration); also its status before the first registration.
WITHDRAWN = "Unregistered"
REGISTERED = "Registered"
# Asterisk registers again this many seconds before a registration expires
# (REREGISTER_BUFFER_TIME): the upstream keeps it about this long after "exp." runs out.
RENEW_MARGIN = 10
# How long a registration lasts at the upstream when Asterisk did not say (its `expiration`
# default, which televoc's trunk keeps).
EXPIRATION = 3600
# Object names a report lists before it says "... and N more".
NAMES_SHOWN = 20


@dataclass(frozen=True)
class Removal:
    """What a teardown withdraws, as the crew knows it.

    + trunks: registration -> how the crew names it ('6000 at 10.77.0.2'); a registration
      Asterisk lists that is not here is named by its server URI
    """

    trunks: dict[str, str] = field(default_factory=dict)

    def label(self, registration: Outbound) -> str:
        return self.trunks.get(registration.name) or f"{registration.name} at {registration.uri}"


def _counted(counts: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{n} {ONE[kind] if n == 1 else SEVERAL[kind]}" for kind, n in counts)


def removed(before: PbxObjects | None, after: PbxObjects | None) -> str | None:
    """What went out of Asterisk between the two listings, counted by kind ('from Asterisk:
    3 endpoints, 1 identify, ...'); None when nothing did. `after` None: Asterisk stopped
    (everything it served went with it)."""
    if before is None:
        return None
    counts = []
    for kind, _, _, _ in KINDS:
        still = set(after.names(kind)) if after is not None else set()
        gone = [name for name in before.names(kind) if name not in still]
        if gone:
            counts.append((kind, len(gone)))
    return f"from Asterisk: {_counted(counts)}" if counts else None


def left(after: PbxObjects) -> str | None:
    """Everything Asterisk still lists, each named by kind ('still in Asterisk: endpoint
    televoc-venue-camp, aor televoc-venue-camp, ...'), at most NAMES_SHOWN names; None when
    it lists nothing."""
    named = [f"{one} {name}" for kind, one, _, _ in KINDS for name in after.names(kind)]
    if not named:
        return None
    more = f", ... and {len(named) - NAMES_SHOWN} more" if len(named) > NAMES_SHOWN else ""
    return f"still in Asterisk ({_counted(after.counts())}): {', '.join(named[:NAMES_SHOWN])}{more}"


def withdrawal(before: Outbound, after: Outbound | None, label: str, wait: float) -> tuple[bool, str]:
    """(withdrawn, what to say) for one trunk whose un-REGISTER was sent: `before` as Asterisk
    listed it when the teardown began, `after` once the wait was over (None: Asterisk no
    longer lists it)."""
    if after is not None and after.status == WITHDRAWN:
        if before.status == WITHDRAWN:
            return True, f"the trunk {label} was not registered (Unregistered): un-REGISTER sent all the same"
        return True, f"the trunk {label}: un-REGISTERed, the upstream confirmed it (its contact there is gone)"
    now = "Asterisk no longer lists it" if after is None else f"Asterisk says {after.status}"
    expires = ""
    if before.status == REGISTERED and before.next_seconds is not None:
        expires = f", in about {before.next_seconds + RENEW_MARGIN} s"
    return False, (
        f"the trunk {label}: the upstream did not confirm the un-REGISTER within {wait:.0f} s ({now}): it may "
        f"route calls to this PBX until the registration expires{expires}; ask the upstream's operators to drop "
        f"the contact of {label}"
    )


def _utc(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


@dataclass(frozen=True)
class Unconfirmed:
    """A trunk whose un-REGISTER the upstream did not confirm, kept on the PBX (as JSON)
    until its registration has expired there: later teardowns cannot send another (the
    registration is gone from Asterisk) and must not forget it.

    + label: the trunk as the crew knows it
    + since: when the un-REGISTER went unanswered (UTC)
    + until: when the upstream's registration expires at the latest (epoch seconds)
    """

    label: str
    since: str
    until: int

    @classmethod
    def of(cls, before: Outbound, label: str, now: float) -> Unconfirmed:
        """From the registration as Asterisk listed it before its un-REGISTER."""
        left = before.next_seconds + RENEW_MARGIN if before.next_seconds is not None else EXPIRATION
        return cls(label=label, since=_utc(int(now)), until=int(now) + max(0, left))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Unconfirmed:
        """ValueError when `text` is not what to_json wrote."""
        data = json.loads(text)
        if not isinstance(data, dict) or set(data) != {"label", "since", "until"}:
            raise ValueError("not a televoc note of an unconfirmed un-REGISTER")
        return cls(label=str(data["label"]), since=str(data["since"]), until=int(data["until"]))

    def judged(self, now: float) -> tuple[bool, str]:
        """(expired, what to say) at `now` (epoch seconds)."""
        if now >= self.until:
            return True, f"the trunk {self.label}: its registration at the upstream has expired ({_utc(self.until)})"
        return False, (
            f"the trunk {self.label}: its un-REGISTER was not confirmed ({self.since}): the upstream may route "
            f"calls to this PBX until about {_utc(self.until)}; ask its operators to drop the contact of "
            f"{self.label}, or run teardown again after that"
        )
