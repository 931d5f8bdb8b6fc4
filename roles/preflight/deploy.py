"""The preflight's one step: ask the host (one remote command), judge, print the report, fail
while a deploy could not succeed."""

from __future__ import annotations

from pyinfra import host, logger
from pyinfra.api import FactBase, FunctionCommand, operation

from roles import nixos
from roles.plan import Plan
from roles.shared import packed, runs
from roles.shared.ops import deploy
from roles.shared.settings import Setting, declare, defaults, read

from . import judge
from .read import command, parse

SETTINGS = declare(
    Setting(
        "televoc_preflight_store_mb",
        2048,
        "preflight: the free space /nix/store needs for a switch (MB).",
        lambda v: _megabytes(v),
    ),
    Setting(
        "televoc_preflight_var_mb",
        512,
        "preflight: the free space /var needs for the event's state and logs (MB).",
        lambda v: _megabytes(v),
    ),
)
ALL_SETTINGS = (*SETTINGS, *nixos.SETTINGS)


def _megabytes(value) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ValueError("expected a whole number of megabytes") from None
    if number < 0:
        raise ValueError("expected a whole number of megabytes")
    return number


class HostFitness(FactBase[judge.Answers]):
    """What the preflight asks the host (roles/preflight/read.py), in one remote command."""

    def command(self, module_path: str, configuration: str, flake_output: str, import_name: str) -> str:
        return packed.command(command(module_path, configuration, flake_output, import_name))

    def process(self, output):
        return parse(packed.lines(output))


def _pinned() -> str | None:
    """The known_hosts file that pins this host's key, when pyinfra checks it strictly."""
    strict = str(host.data.get("ssh_strict_host_key_checking", "")).lower()
    path = host.data.get("ssh_known_hosts_file")
    if strict != "yes" or not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            names = {
                name for line in f if line.strip() and not line.startswith("#") for name in line.split()[0].split(",")
            }
    except OSError:
        return None
    hostname = host.data.get("ssh_hostname") or host.name
    port = host.data.get("ssh_port")
    wanted = {hostname, f"[{hostname}]:{port}"} if port and int(port) != 22 else {hostname}
    return path if names & wanted else None


def _judged(
    state, host, answers_needed: judge.Needs, flake_output: str, module_path: str, configuration: str, import_name: str
) -> bool:
    answers = host.get_fact(
        HostFitness,
        module_path=module_path,
        configuration=configuration,
        flake_output=flake_output,
        import_name=import_name,
    )
    if flake_output:  # the configuration the deploy switches, when not the host's name
        answers.name = flake_output
    found = judge.findings(answers, answers_needed)
    logger.info(f"{host.print_prefix}preflight of {host.name}:")
    for line in judge.report(found):
        logger.info(f"    {line}")
    blocking = [f for f in found if not f.ok]
    if blocking:
        many = len(blocking) != 1
        logger.error(
            f"{host.print_prefix}{len(blocking)} finding{'s' if many else ''} would make a deploy fail: fix "
            f"{'them' if many else 'it'} (the line after each says how) and run the preflight again"
        )
        return False
    logger.info(f"{host.print_prefix}this box is fit for the event: a deploy can succeed")
    return True


@operation(is_idempotent=False)
def fitness_reported(need: judge.Needs, flake_output: str, module_path: str, configuration: str, import_name: str):
    """
    Ask the host what a deploy depends on, print each finding with its fix, and fail while
    one of them would make a deploy fail. Changes nothing on the host.
    """
    yield FunctionCommand(_judged, (need, flake_output, module_path, configuration, import_name), {})


@deploy("Preflight", data_defaults=defaults(ALL_SETTINGS))
def host_fit(plan: Plan):
    """Report whether this host can take the event of `plan`, finding by finding."""
    settings = read(ALL_SETTINGS)
    ports = tuple((o.protocol, o.ports[0], o.what) for o in plan.module.openings if o.ports[0] == o.ports[1])
    need = judge.Needs(
        module_path=settings.nixos__module_path,
        configuration=settings.nixos__configuration,
        ports=ports,
        store_mb=settings.televoc_preflight_store_mb,
        var_mb=settings.televoc_preflight_var_mb,
        ssh_pinned=_pinned(),
        check_import=settings.nixos__check_import,
    )
    fitness_reported(
        name=runs.check("The box is fit for the event (preflight: reads, changes nothing)"),
        need=need,
        flake_output=settings.nixos__flake_output,
        module_path=settings.nixos__module_path,
        configuration=settings.nixos__configuration,
        import_name=nixos.import_name(settings),
    )
