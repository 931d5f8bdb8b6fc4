"""Call routing, resolved in pure Python: groups, forwards, pickup groups, loud callers.

+ The graph of names (`Node`, `jumps`, `expansions`, `find_cycles`, `expand`): what the checks
  (checks.py) walk while the directory loads, to report cycles with their path and delays a
  group never reaches.
+ `resolve()` turns a valid `Directory` into one `Route` per number: which phones ring, each
  after which delay, for how long, and which number takes the call when nobody answers, the
  phone is busy or cannot be reached. Nested groups and `always` forwards are expanded here;
  the dialplan (roles/asterisk) only writes the routes down. A route's fallbacks jump to other
  routes along edges of a graph the checks proved to be acyclic: no call can loop.

Choices (docs/routing.md):
+ a phone that a group reaches twice (directly and through a nested group) rings once, after
  the smaller delay;
+ a nested group's members ring after the nested group's delay plus their own; the nested
  group's own timeout and forwards do not apply inside the outer group (the outer group's do);
+ a member that forwards `always` is replaced by its target; a member's other forwards do not
  apply inside a group (the group's forwards decide what happens when nobody answers);
+ a paused member (or a paused nested group) does not ring; a group whose members are all
  paused or unreachable sends its calls on like an unavailable phone (its `unavailable`
  forward), and the deploy lists it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from roles.shared.names import FORWARD_OUT_CONTEXT

from .model import DEFAULT_RING_TIMEOUT, Account, Directory, Forward, Member, ring_seconds

# Dial()'s arguments are cut at Asterisk's 8 KB buffer (EXT_DATA_SIZE in pbx.c): a group whose
# dial string would be longer is refused (a group that rings hundreds of phones at once is
# better split into groups that ring one after the other).
MAX_DIAL_STRING = 7000
WAIT_CONTEXT = "televoc-wait-"  # + delay: the Local leg of a delayed member waits there
RING_CONTEXT = "televoc-ring"  # where a Local leg rings its phone


@dataclass(slots=True)  # not frozen: 10,000 frozen instances take twice the time to make
class Leg:
    """One phone a route rings."""

    name: str
    extension: str
    delay: int
    # rung through a Local leg (televoc-ring) so that its own Alert-Info class is set there
    loud: bool = False

    @property
    def dial(self) -> str:
        if self.delay:
            return f"Local/{self.extension}@{WAIT_CONTEXT}{self.delay}"
        if self.loud:
            return f"Local/{self.extension}@{RING_CONTEXT}"
        return f"PJSIP/{self.name}"


@dataclass(slots=True)
class Route:
    """What happens to a call for `number` (a phone's extension or a group's number)."""

    number: str
    name: str
    kind: str  # "phone" or "group"
    label: str  # e.g. 'group infodesk "Info Desk"', for the dialplan's comments
    legs: tuple[Leg, ...]
    timeout: int
    always: str | None = None  # the number every call goes to instead
    no_answer: str | None = None
    busy: str | None = None
    unavailable: str | None = None
    prefix: str = ""  # put before the caller's name: '[Info] '
    group: str = ""  # the group name the callee's Alert-Info class tells (televoc-group)
    targets: tuple[tuple[str, str], ...] = ()  # (kind, target name), for the comments
    loud_arg: str = ""  # a phone with loud_from: its extension, for the predial handler

    @property
    def dial(self) -> str:
        return "&".join(leg.dial for leg in self.legs)

    @property
    def ring_at_once(self) -> bool:
        """Every leg starts later: Dial's `r` tells the caller it rings meanwhile."""
        return bool(self.legs) and all(leg.delay for leg in self.legs)


@dataclass(frozen=True)
class Routing:
    routes: tuple[Route, ...]
    delays: tuple[int, ...]  # every member delay in use (one wait context each)
    delayed: tuple[Account, ...]  # phones some group rings through a Local leg
    loud: dict  # phone extension -> the extensions of the callers that ring it loud

    def route(self, number: str) -> Route:
        return next(r for r in self.routes if r.number == number)


# ---------------------------------------------------------------- the graph of names


@dataclass(slots=True)
class Node:
    """A phone or group as the checks see it: enough to follow its edges."""

    kind: str  # "phone" or "group"
    name: str
    number: str
    index: int  # the entry's index in its file
    forward: Forward | None = None
    members: tuple[Member, ...] = ()  # for groups
    timeout: int = DEFAULT_RING_TIMEOUT
    paused: bool = False


Where = tuple[str | int, ...]  # where in the node's entry an edge is written: ("members", 2)
Edge = tuple[str, str, Where]  # (label, target name, where)
Step = tuple[str, str, Where]  # (from name, label, where) on a cycle


def jumps(node: Node) -> list[Edge]:
    """The edges a call follows from one route to another: every forward. A cycle here would
    send a call round for ever. (label, target name, where), where is ("forward", kind)."""
    if node.forward is None:
        return []
    return [(f"forward {kind}", target, ("forward", kind)) for kind, target in node.forward.targets()]


def expansions(node: Node) -> list[Edge]:
    """The edges a group is expanded along into the phones it rings: its members, and a
    member's `always` forward. A cycle here would never end expanding."""
    out: list[Edge] = [
        (f"member{' (paused)' if m.paused else ''}", m.name, ("members", j)) for j, m in enumerate(node.members)
    ]
    if node.forward is not None and node.forward.always:
        out.append(("forward always", node.forward.always, ("forward", "always")))
    return out


def find_cycles(nodes: dict[str, Node], edges: Callable[[Node], list[Edge]]) -> list[list[Step]]:
    """Each cycle along `edges` once (iterative DFS, linear in nodes and edges): a list of
    steps (from name, label, where) ending back at its first name."""
    WHITE, GREY, BLACK = 0, 1, 2
    # Only nodes with an edge out can be on a cycle (most phones have none).
    out = {key: steps for key, node in nodes.items() if (steps := edges(node))}
    color = dict.fromkeys(out, WHITE)
    cycles = []
    for start in out:
        if color[start] != WHITE:
            continue
        stack = [(start, iter(out[start]))]
        path: list[Step] = []
        color[start] = GREY
        while stack:
            name, it = stack[-1]
            step = next(it, None)
            if step is None:
                color[name] = BLACK
                stack.pop()
                if path:
                    path.pop()
                continue
            label, target, where = step
            key = target.lower()
            if key not in out:  # unknown, or a node without edges out: no cycle through it
                continue
            if color[key] == GREY:
                # the cycle: from where `key` sits on the stack to here
                names = [n for n, _ in stack]
                at = names.index(key)
                cycle = path[at:] + [(name, label, where)]
                cycles.append(cycle)
            elif color[key] == WHITE:
                color[key] = GREY
                path.append((name, label, where))
                stack.append((key, iter(out[key])))
    return cycles


def cycle_text(cycle: list[Step], nodes: dict[str, Node]) -> str:
    """'infodesk -> saal1 (member) -> infodesk (forward busy)'."""
    first = nodes[cycle[0][0]].name
    parts = [first]
    for i, (_, label, _where) in enumerate(cycle):
        nxt = cycle[i + 1][0] if i + 1 < len(cycle) else cycle[0][0]
        parts.append(f"{nodes[nxt].name} ({label})")
    return " -> ".join(parts)


def expand(nodes: dict[str, Node], group: str) -> dict[str, tuple[int, list[str]]]:
    """The phones `group` rings: phone name (lower) -> (delay, path of names), each phone once
    with its smallest delay. Paused members are left out; a member forwarding `always` is
    replaced by its target. The graph must be acyclic (find_cycles found nothing)."""
    result: dict[str, tuple[int, list[str]]] = {}

    def follow(name: str, delay: int, path: list[str]) -> None:
        node = nodes[name.lower()]
        if node.forward is not None and node.forward.always:
            if node.forward.always.lower() in nodes:
                follow(node.forward.always, delay, path + [node.name])
            return  # (an outside number does not ring in a group: refused by the checks)
        if node.kind == "phone":
            key = node.name.lower()
            if key not in result or delay < result[key][0]:
                result[key] = (delay, path + [node.name])
            return
        for member in node.members:
            if not member.paused:
                follow(member.name, delay + member.delay, path + [node.name])

    top = nodes[group.lower()]
    for member in top.members:
        if not member.paused:
            follow(member.name, member.delay, [top.name])
    return result


def outside_number(target: str, trunk) -> str | None:
    """The outside number a forward target names (what a phone dials to call out: the trunk's
    dial-out prefix, then digits), without the prefix; None for a name (or without a trunk)."""
    if trunk is None or not target.isdigit():
        return None
    prefix = trunk.dial_out_prefix
    return target[len(prefix) :] if target.startswith(prefix) and len(target) > len(prefix) else None


# ---------------------------------------------------------------- resolve


def _fallback(forward, kind: str, numbers: dict[str, str], trunk=None) -> str | None:
    """Where `kind` forwards to: a number of the event, or FORWARD_OUT_CONTEXT,<outside number>."""
    target = getattr(forward, kind, None) if forward is not None else None
    if not target:
        return None
    if target.lower() in numbers:
        return numbers[target.lower()]
    return f"{FORWARD_OUT_CONTEXT},{outside_number(target, trunk)}"


def resolve(directory: Directory) -> Routing:
    """One Route per phone and group of a valid directory (see the module's docstring). The
    run's plan (roles/plan.py) resolves once; the dialplan and the verification take it."""
    event = directory.event
    accounts = {a.name.lower(): a for a in directory.accounts}
    numbers = {a.name.lower(): a.extension for a in directory.accounts}
    numbers.update({g.name.lower(): g.number for g in directory.groups})
    numbers.update({a.name.lower(): a.number for a in directory.announcements})  # a forward's target too
    if directory.venue is not None:  # forwards may name phones and groups of other venues
        numbers.update({name.lower(): number for name, number in directory.venue.remote})
    nodes = graph(directory)
    trunk = directory.event.trunk
    routes = []
    delays: set[int] = set()
    delayed: dict[str, Account] = {}
    for a in directory.accounts:
        route = Route(
            number=a.extension,
            name=a.name,
            kind="phone",
            label=f'phone {a.name} "{a.display_name}"',
            legs=(Leg(a.name, a.extension, 0),),
            timeout=ring_seconds(event.ring_timeout, forward=a.forward),
            loud_arg=a.extension if a.loud_from else "",
        )
        f = a.forward
        if f is not None:
            route.always, route.no_answer = (
                _fallback(f, "always", numbers, trunk),
                _fallback(f, "no_answer", numbers, trunk),
            )
            route.busy, route.unavailable = (
                _fallback(f, "busy", numbers, trunk),
                _fallback(f, "unavailable", numbers, trunk),
            )
            route.targets = tuple(f.targets())
        routes.append(route)
    for g in directory.groups:
        f = g.forward
        legs = []
        for key, (delay, _) in sorted(expand(nodes, g.name).items(), key=lambda kv: kv[1][0]):  # stable: listed order
            a = accounts[key]
            leg = Leg(a.name, a.extension, delay, loud=bool(a.loud_from))
            legs.append(leg)
            if delay:
                delays.add(delay)
            if delay or leg.loud:
                delayed[key] = a
        routes.append(
            Route(
                number=g.number,
                name=g.name,
                kind="group",
                label=f'group {g.name} "{g.display_name}"',
                legs=tuple(legs),
                timeout=g.timeout,
                prefix=f"[{g.short}] ",
                group=g.name,
                always=_fallback(f, "always", numbers, trunk),
                no_answer=_fallback(f, "no_answer", numbers, trunk),
                busy=_fallback(f, "busy", numbers, trunk),
                unavailable=_fallback(f, "unavailable", numbers, trunk),
                targets=tuple(f.targets()) if f is not None else (),
            )
        )
    for a in directory.accounts:
        if a.loud_from:
            delayed.setdefault(a.name.lower(), a)
    return Routing(
        routes=tuple(routes),
        delays=tuple(sorted(delays)),
        delayed=tuple(sorted(delayed.values(), key=lambda a: a.extension)),
        loud=_loud(directory, nodes, accounts),
    )


def loud_callers(directory: Directory) -> dict[str, tuple[str, ...]]:
    """phone extension -> the extensions of the callers that ring it loud (its loud_from: the
    phones named, and every phone of the groups named)."""
    return _loud(directory, graph(directory), {a.name.lower(): a for a in directory.accounts})


def _loud(directory: Directory, nodes: dict[str, Node], accounts: dict[str, Account]) -> dict[str, tuple[str, ...]]:
    if directory.venue is not None:  # resolved on the whole event (venue_directory)
        return dict(directory.venue.loud)
    loud = {}
    for a in directory.accounts:
        if a.loud_from:
            callers: set[str] = set()
            for name in a.loud_from:
                node = nodes[name.lower()]
                if node.kind == "phone":
                    callers.add(node.number)
                else:
                    callers.update(accounts[k].extension for k in _all_phones(nodes, node.name))
            loud[a.extension] = tuple(sorted(callers))
    return loud


def _all_phones(nodes: dict[str, Node], group: str) -> set[str]:
    """Every phone in `group` and its nested groups, paused or not (the callers of loud_from:
    a paused member still calls from its group's people)."""
    out: set[str] = set()
    todo = [group.lower()]
    seen = set()
    while todo:
        node = nodes[todo.pop()]
        if node.name.lower() in seen:
            continue
        seen.add(node.name.lower())
        for m in node.members:
            child = nodes[m.name.lower()]
            if child.kind == "phone":
                out.add(child.name.lower())
            else:
                todo.append(child.name.lower())
    return out


def graph(directory: Directory) -> dict[str, Node]:
    nodes = {a.name.lower(): Node("phone", a.name, a.extension, i, a.forward) for i, a in enumerate(directory.accounts)}
    for i, g in enumerate(directory.groups):
        nodes[g.name.lower()] = Node("group", g.name, g.number, i, g.forward, g.members, g.timeout)
    return nodes


def callers(accounts, groups, dial_out) -> tuple[str, ...]:
    """The extensions of the phones `dial_out` names ('all', or phones and groups: every phone
    in a group and its nested groups, paused ones too: pausing is about ringing)."""
    if dial_out == "all":
        return tuple(sorted(a.extension for a in accounts))
    nodes = {a.name.lower(): Node("phone", a.name, a.extension, i) for i, a in enumerate(accounts)}
    for i, g in enumerate(groups):
        nodes[g.name.lower()] = Node("group", g.name, g.number, i, None, g.members)
    out: set[str] = set()
    for name in dial_out:
        node = nodes[name.lower()]
        if node.kind == "phone":
            out.add(node.number)
        else:
            out.update(nodes[k].number for k in _all_phones(nodes, node.name))
    return tuple(sorted(out))
