"""The run's plan: everything a deploy puts on a PBX, rendered once, in one place.

Each role renders its own artefacts from the event (roles.event's Directory): the asterisk
role Asterisk's files and the passwords beside them, the snom role the phones' settings and
its provisioning server. This module hands them to the nixos role, which renders the NixOS
module around them: Asterisk's files in `services.asterisk`, the provisioning server as a
service with its port open to the phone network, fail2ban jails on each log that names
sources to ban (the provisioning server's: one for its refusals, one for its sweepers). No
role imports another; deploy.py and teardown.py read the plan and give each role's steps
their part.

    plan = buildup(directory, Where(...))   # pure: no host, no I/O but reading the server's code
    plan.asterisk, plan.provisioning, plan.module

    plan = for_deploy(directory)             # in deploy.py: Where from the run's settings
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from roles import asterisk, calllog, nixos, selfservice, snom  # noqa: F401  (calllog: its settings)
from roles.event import Directory
from roles.event.routing import resolve
from roles.selfservice import BoardCrew
from roles.shared import names
from roles.shared.settings import check_given as _check_given
from roles.shared.settings import read

# What the module says about each part it runs (NixOS's module comments).
SIP_JAIL = "televoc-sip"
SIP_JAIL_COMMENT = (
    "Wrong SIP passwords, unknown accounts, addresses outside the phone network (Asterisk's",
    "security events; a REGISTER for an unknown account counts three times).",
)
# With DECT bases: the address a declared base last fetched its own settings file from (the
# provisioning server's state) is not banned for a failure, whatever the number of accounts
# registered there: one handset's stale password would otherwise take every handset of the
# base off the network (docs/threat-model.md).
BASE_IGNORE_COMMENT = (
    "The address a declared DECT base last fetched its own settings from (the provisioning",
    "server's state) is not banned; when the state cannot be read, it is.",
)
PROVISIONING_COMMENT = (
    "Phone provisioning: televoc's own server ({script}, next to this file), as its",
    "own user, bound to the PBX's address in the phone network.",
)
PROVISIONING_JAIL_COMMENT = ("Requests for unknown MACs or other paths, and for settings another address fetched.",)
PROVISIONING_SWEEP_JAIL = "televoc-mac-sweep"
PROVISIONING_SWEEP_JAIL_COMMENT = (
    "A source the provisioning server refuses for sweeping MACs (too many unknown MACs from",
    "one address): banned at its first such line.",
)
PROVISIONING_DESCRIPTION = "televoc phone provisioning"
PROVISIONING_CODE_LABEL = "The provisioning server's code"
CLAIMS_TOOL_COMMENT = (
    "Self-service: the command that reads and writes the database of claims, temporary numbers",
    "and tokens ({script}, next to this file; the database: {db}).",
)
CLAIMS_CODE_LABEL = "The self-service database's command"
PAGE_COMMENT = (
    "Self-service: the registration page ({script}, next to this file; Flask and Flask-WTF",
    "served by waitress), as the asterisk user (it writes the database Asterisk reads), open",
    "to the phone network only; it sees neither the crew's passwords nor the phones' files.",
)
PAGE_JAIL_COMMENT = (
    "Wrong release secrets given on the registration page, wrong claim tokens dialled, failed crew",
    "logins on the board.",
)
BOARD_COMMENT = (
    "The crew's board (board.py, a part of the same web application; its phones in board.json):",
    "it reads Asterisk's state with Asterisk's CLI (its control socket: AF_UNIX) and checks",
    "the crew's login against the hash in {hash} (outside the Nix store).",
)
BOARD_LABELS = {
    "board": "The crew's board's code",
    "config": "The crew's board's settings and phones (no secret)",
    "parser": "Code the board shares with the deploy (a parser of Asterisk's answers, the call log's statistics)",
}
CLAIM_AGI_COMMENT = (
    "Self-service: the claim by dialling (the dialplan's AGI; Asterisk runs it as the asterisk",
    "user): checks the token, binds the claim to the phone, tells the phone to fetch it.",
)
# Asterisk's own files (its astdb, spool, logs, CLI socket): a daemon in the asterisk group
# for the self-service database must not see them.
ASTERISK_DIRS = ("/var/lib/asterisk", "/var/spool/asterisk", "/var/log/asterisk", "/run/asterisk")
PAGE_DESCRIPTION = "televoc self-service registration page"
BOARD_DESCRIPTION = "televoc crew board"
PAGE_CODE_LABEL = "The registration page's code"
PAGE_TEMPLATES_LABEL = "The registration page's templates"
PAGE_PACKAGES = ("flask", "flask-wtf", "waitress")


@dataclass(frozen=True)
class Where:
    """The run settings the renderers need: where the passwords and the phones' files go."""

    secrets_path: str = asterisk.SECRETS_PATH
    provisioning_dir: str = snom.PROVISIONING_DIR


@dataclass(frozen=True)
class Plan:
    """Everything one run puts on one PBX.

    + asterisk: Asterisk's files, the passwords, what the steps keep and check
    + provisioning: the provisioning server and the files it serves
    + module: the NixOS module around them, with the files shipped beside it
    + serving: what NixOS serves once switched to the module, for the step's name
    + selfservice: the self-service database (claims), what the deploy keeps there
    + board: the crew's password for the board, hashed (None: no board)
    """

    asterisk: asterisk.AsteriskConfig
    provisioning: snom.Provisioning
    module: nixos.Module = field(repr=False)
    serving: str
    selfservice: selfservice.Database = selfservice.Database(serves=False)
    board: BoardCrew | None = None


def buildup(directory: Directory, where: Where = Where(), control: dict | None = None) -> Plan:
    """The plan of a deploy: the event as `directory` describes it. `control`: what the run
    tells the provisioning server (snom.control)."""
    config = asterisk.render_asterisk(directory, resolve(directory), where.secrets_path)
    provisioning = snom.provisioning(directory, where.provisioning_dir, control=control)
    return Plan(
        asterisk=config,
        provisioning=provisioning,
        module=module(
            directory,
            config,
            provisioning.server,
            selfservice.page_service(directory, provisioning.server.state_path if provisioning.server else None),
        ),
        serving="the event's Asterisk config",
        selfservice=selfservice.database(directory, asterisk.realtime_defaults(directory.event)),
        board=selfservice.board_crew(directory),
    )


def teardown(directory: Directory, where: Where = Where(), stop: bool = False) -> Plan:
    """The plan of a teardown: Asterisk with nothing of the event (no phone, trunk, other
    venue or dialplan; or, with `stop`, no Asterisk at all), SIP open to the phone network
    only, and the provisioning server offering every provisioned phone its wiped profile (for
    phones that boot late)."""
    config = asterisk.render_teardown(directory, where.secrets_path, enable=not stop)
    provisioning = snom.provisioning(directory, where.provisioning_dir, wiped=True)
    return Plan(
        asterisk=config,
        provisioning=provisioning,
        module=module(directory.emptied(), config, provisioning.server),
        serving="no Asterisk" if stop else "an Asterisk config with nothing of the event",
    )


def module(
    directory: Directory,
    config: asterisk.AsteriskConfig,
    server: snom.ProvisioningService | None,
    page: selfservice.PageService | None = None,
) -> nixos.Module:
    """The NixOS module that serves `config` and runs `server` (None: no provisioning) and the
    registration page `page` (None: none; a teardown serves none), with
    each port open only to the sources that need it and jails on each log that names
    sources to ban."""
    event = directory.event
    service = nixos.AsteriskService(
        enable=config.enable,
        conf_files=config.conf_files,
        secrets_path=config.secrets_path,
        log=asterisk.SECURITY_LOG if config.enable else "",  # the SIP jail reads it
    )
    script = snom.PROVISIOND.name
    daemons, jails, openings = [], [], []
    if config.enable:
        sip = event.sip
        peers = sip_peers(directory)
        spare_bases = bool(directory.bases) and server is not None
        openings += [
            nixos.Opening("SIP", "udp", (sip.port, sip.port), peers),
            nixos.Opening("RTP", "udp", (sip.rtp_start, sip.rtp_end), peers),
        ]
        jails.append(
            nixos.Jail(
                name=SIP_JAIL,
                comment=(*SIP_JAIL_COMMENT, *BASE_IGNORE_COMMENT) if spare_bases else SIP_JAIL_COMMENT,
                logpath=asterisk.SECURITY_LOG,
                after="asterisk.service",
                filter="asterisk",
                ignore=(script, server.spared_arguments) if spare_bases and server is not None else None,
            )
        )
    if server is not None:
        daemons.append(
            nixos.Daemon(
                name=server.service,
                description=PROVISIONING_DESCRIPTION,
                comment=tuple(line.format(script=script) for line in PROVISIONING_COMMENT),
                script=script,
                arguments=server.arguments,
                bind=server.bind,
                port=server.port,
                log=server.log_path,
                # self-service: it writes the temporary numbers into the database (the asterisk
                # group's), and sees neither the crew's passwords nor Asterisk's own files
                groups=("asterisk",) if server.selfservice else (),
                writable=(posixpath.dirname(names.SELFSERVICE_DB),) if server.selfservice else (),
                hidden=(posixpath.dirname(config.secrets_path), *ASTERISK_DIRS) if server.selfservice else (),
            )
        )
        openings.append(nixos.Opening("provisioning", "tcp", (server.port, server.port), (server.network,)))
        jails.append(
            nixos.Jail(
                name=server.service,
                comment=PROVISIONING_JAIL_COMMENT,
                logpath=server.log_path,
                after=f"{server.service}.service",
                failregex=snom.REFUSED_LOG_REGEX,
                datepattern=snom.LOG_DATE_PATTERN,
            )
        )
        jails.append(
            nixos.Jail(
                name=PROVISIONING_SWEEP_JAIL,
                comment=PROVISIONING_SWEEP_JAIL_COMMENT,
                logpath=server.log_path,
                after=f"{server.service}.service",
                failregex=snom.SWEEP_LOG_REGEX,
                datepattern=snom.LOG_DATE_PATTERN,
                maxretry=1,
            )
        )
    # The server's code is always in place beside the module (a later event may provision).
    # The self-service database's command too: claims outlive a self_service: turned off.
    claims_script = selfservice.CLAIMSDB.name
    embedded: tuple[nixos.Embedded, ...] = (
        nixos.Embedded(script, snom.PROVISIOND.read_text(encoding="utf-8"), PROVISIONING_CODE_LABEL),
        nixos.Embedded(claims_script, selfservice.CLAIMSDB.read_text(encoding="utf-8"), CLAIMS_CODE_LABEL),
    )
    tools = [
        nixos.Tool(
            target=names.SELFSERVICE_TOOL.removeprefix("/etc/"),
            script=claims_script,
            comment=tuple(line.format(script=claims_script, db=names.SELFSERVICE_DB) for line in CLAIMS_TOOL_COMMENT),
        )
    ]
    if page is not None and config.enable:  # the registration page and the board (none at teardown)
        comment = tuple(line.format(script=selfservice.PAGE.name) for line in PAGE_COMMENT) if page.registration else ()
        if page.board:
            comment += tuple(line.format(hash=selfservice.BOARD_HASH) for line in BOARD_COMMENT)
        daemons.append(
            nixos.Daemon(
                name=page.service,
                description=PAGE_DESCRIPTION if page.registration else BOARD_DESCRIPTION,
                comment=comment,
                script=selfservice.PAGE.name,
                arguments=page.arguments,
                bind=page.bind,
                port=page.port,
                user="asterisk",
                python_packages=PAGE_PACKAGES,
                state=posixpath.basename(posixpath.dirname(names.SELFSERVICE_DB)),  # systemd makes it
                state_mode="2770",  # the provisioning server (asterisk group) writes temporary numbers
                hidden=(posixpath.dirname(config.secrets_path), snom.PROVISIONING_DIR, "/var/lib/asterisk"),
                log=page.log_path,  # its jail reads it: it exists before the page counts as started
                unix_sockets=page.board,  # the board asks Asterisk's CLI
            )
        )
        what = "registration page" if page.registration else "crew's board"
        openings.append(nixos.Opening(what, "tcp", (page.port, page.port), (page.network,)))
        jails.append(
            nixos.Jail(
                name=page.service,
                comment=PAGE_JAIL_COMMENT,
                logpath=page.log_path,
                after=f"{page.service}.service",
                failregex=selfservice.PAGE_JAIL_REGEX,
                datepattern=snom.LOG_DATE_PATTERN,
            )
        )
        tools.append(  # the claim by dialling: Asterisk runs it (AGI) as the asterisk user
            nixos.Tool(
                target=names.SELFSERVICE_AGI.removeprefix("/etc/"),
                script=claims_script,
                comment=CLAIM_AGI_COMMENT,
                arguments=(
                    f"--db {names.SELFSERVICE_DB} agi --log {page.log_path} --notify {names.NOTIFY_CHECK_SYNC} "
                    "--asterisk ${config.services.asterisk.package}/bin/asterisk"
                ),
                group="asterisk",
                mode="0750",
            )
        )
        embedded += (
            nixos.Embedded(selfservice.PAGE.name, selfservice.PAGE.read_text(encoding="utf-8"), PAGE_CODE_LABEL),
            nixos.Embedded(selfservice.TEMPLATES_FILE, selfservice.page_templates(), PAGE_TEMPLATES_LABEL),
        )
        if page.board:
            embedded += tuple(
                nixos.Embedded(name, text, BOARD_LABELS[kind]) for name, kind, text in selfservice.board_embedded(page)
            )
    return nixos.render_module(event, service, tuple(daemons), tuple(jails), embedded, tuple(openings), tuple(tools))


def sip_peers(directory: Directory) -> tuple[str, ...]:
    """Who may reach SIP and RTP: the phone network, the upstream's addresses (the trunk at
    this venue: its `sources`, else its registrar's address) and the other venues' PBXes."""
    sources = [directory.event.network]
    if directory.trunk is not None:
        trunk = directory.trunk.trunk
        sources += trunk.sources or (trunk.host,)
    if directory.venue is not None:
        sources += [peer.address for peer in directory.venue.peers]
    return tuple(dict.fromkeys(sources))


def check_given() -> None:
    """Refuse `--data` names no role declares (a typo would silently change nothing). Every
    role is imported here, so every name is known, whichever steps a deploy file runs."""
    _check_given()


def where() -> Where:
    """Where, from the run's settings (`--data` > host data > defaults); in a deploy file."""
    settings = read((*asterisk.SETTINGS, *snom.SETTINGS))
    return Where(secrets_path=settings.asterisk__secrets_path, provisioning_dir=settings.snom__provisioning_dir)


def for_deploy(directory: Directory) -> Plan:
    """buildup() with the run's settings, and what the run tells the provisioning server."""
    return buildup(directory, where(), snom.control(directory))


def for_teardown(directory: Directory) -> Plan:
    """teardown() with the run's settings (televoc_teardown=stop: no Asterisk)."""
    return teardown(directory, where(), stop=read(asterisk.SETTINGS).televoc_teardown == "stop")
