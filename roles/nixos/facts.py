"""Facts the nixos role reads on the PBX: its live firewall, in one remote command."""

from __future__ import annotations

from pyinfra.api import FactBase

from roles.shared import packed

from . import firewall


class FirewallState(FactBase[firewall.LiveFirewall]):
    """
    The PBX's firewall as the kernel has it (`iptables -S`, `ip6tables -S`, `nft list table
    inet nixos-fw`) and fail2ban's jails, parsed (roles/nixos/firewall.py).

    .. code:: python

        live = host.get_fact(FirewallState)
        firewall.problems(live, module.openings, module.jails)
    """

    @staticmethod
    def default():
        return firewall.LiveFirewall(backend=None)

    def command(self) -> str:
        return packed.command(firewall.command())

    def process(self, output):
        return firewall.parse(firewall.split(packed.lines(output)))
