"""Resource limits and kernel settings: the stand-in gives a unit what systemd and NixOS give
it on a server, and televoc's module gives Asterisk what it raises (docs/capacity.md).

Each test is one claim. The lab shares this machine's kernel: sysctl keys the kernel keeps
per network namespace are written in the PBX's; the machine-wide ones are never written and
the switch says so (lab/standin/nixos-rebuild, "Lab deviations"). Where the lab may not raise
a hard limit (no CAP_SYS_RESOURCE), a unit's limit is cut to the lab's own, never raised.
"""

from __future__ import annotations

import re
import resource
from pathlib import Path

import pytest

from lab.deploys import Deployment, copy_example_event
from lab.lab import Lab
from lab.wait import wait_for
from roles.nixos.render import LIMITS
from tests.lab_tests.test_standin import Pbx, module, web_service

LAB_HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]  # what the lab itself may give


def nofile(lab: Lab, pid: int) -> tuple[int, int]:
    """(soft, hard) open files of a process, from /proc/PID/limits."""
    text = lab.run(f"cat /proc/{pid}/limits").stdout
    match = re.search(r"^Max open files\s+(\d+)\s+(\d+)", text, re.M)
    assert match, text
    return int(match[1]), int(match[2])


def asterisk_pid(lab: Lab) -> int:
    return int(lab.run("cat /run/televoc-lab/asterisk.pid").stdout)


def sip_socket_buffers(lab: Lab) -> tuple[int, int]:
    """(receive, send) buffer of the socket on UDP 5060, as the kernel gave it (ss skmem rb/tb)."""
    out = lab.run("ss -Huanm sport = :5060").stdout
    match = re.search(r"skmem:\(r\d+,rb(\d+),t\d+,tb(\d+)", out)
    assert match, out
    return int(match[1]), int(match[2])


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    with Lab(tmp_path_factory.mktemp("limits") / "lab") as lab:
        yield Pbx(lab)


def test_a_unit_without_limit_nofile_gets_systemds_default_of_1024(pbx):
    """Not what the lab's caller had (20,000 on this machine): systemd's DefaultLimitNOFILE,
    1024 soft, for Asterisk as NixOS's unit runs it and for any other service."""
    pbx.switch(module(asterisk=True, service=web_service()))
    wait_for(lambda: pbx.main_pid("web.service") > 0, 10, "the web server")
    for pid in (pbx.main_pid("web.service"), asterisk_pid(pbx.lab)):
        soft, hard = nofile(pbx.lab, pid)
        assert soft == 1024 and hard == min(524288, LAB_HARD)


def test_limit_nofile_reaches_asterisk_and_asterisk_reports_it(pbx):
    """systemd.services.asterisk.serviceConfig.LimitNOFILE is Asterisk's limit (set before
    it forks and drops to its user), and Asterisk itself reports it."""
    pbx.lab.run("systemctl stop asterisk")
    pbx.switch(module(asterisk=True, asterisk_extra="  systemd.services.asterisk.serviceConfig.LimitNOFILE = 4096;"))
    pbx.lab.run("systemctl start asterisk", timeout=120)
    assert nofile(pbx.lab, asterisk_pid(pbx.lab)) == (4096, 4096)
    assert re.search(r"Maximum open file handles:\s+4096\b", pbx.lab.asterisk("core show settings"))


def test_a_namespaced_sysctl_is_applied_in_the_pbx_only(pbx):
    """boot.kernel.sysctl lands in /etc/sysctl.d/60-nixos.conf (with NixOS's defaults) and a
    key the kernel keeps per network namespace takes effect in the PBX's namespace, not on
    this machine; a switch that leaves the file as it is does not apply it again."""
    with open("/proc/sys/net/ipv4/udp_rmem_min") as f:
        machine = f.read().strip()
    wanted = "8192" if machine != "8192" else "12288"
    text = module(extra=f'  boot.kernel.sysctl."net.ipv4.udp_rmem_min" = {wanted};')
    r = pbx.switch(text)
    assert "restarting the following units: systemd-sysctl.service" in r.stderr
    conf = pbx.lab.run("cat /etc/sysctl.d/60-nixos.conf").stdout
    assert f"net.ipv4.udp_rmem_min={wanted}\n" in conf and "kernel.kptr_restrict=1\n" in conf
    assert pbx.lab.run("cat /proc/sys/net/ipv4/udp_rmem_min").stdout.strip() == wanted
    with open("/proc/sys/net/ipv4/udp_rmem_min") as f:
        assert f.read().strip() == machine
    again = pbx.switch(text + " ")  # the same sysctl file
    assert "systemd-sysctl" not in again.stderr


def test_a_machine_wide_sysctl_above_the_machines_is_named_not_applied(pbx):
    """net.core.rmem_max is the machine's (read-only in a namespace): a value above this
    machine's is not written, and the switch says so rather than pretending."""
    with open("/proc/sys/net/core/rmem_max") as f:
        machine = int(f.read())
    r = pbx.switch(module(extra=f'  boot.kernel.sysctl."net.core.rmem_max" = {machine * 2};'))
    said = next(line for line in r.stderr.splitlines() if "NOT applied, global to the machine's kernel" in line)
    assert f"net.core.rmem_max {machine} (wanted {machine * 2})" in said
    with open("/proc/sys/net/core/rmem_max") as f:
        assert int(f.read()) == machine


def test_televocs_module_gives_asterisk_its_descriptors_and_its_sip_buffers(tmp_path):
    """A deploy with the real pyinfra CLI: Asterisk runs with LimitNOFILE (cut only to what
    the lab may give), the SIP socket has the 512 KiB each way that Asterisk asks for (the
    kernel doubles it for its bookkeeping), and the sysctl file holds televoc's caps."""
    with Lab(tmp_path / "lab") as lab:
        pbx = Deployment.prepare(lab, tmp_path, copy_example_event(tmp_path / "event"))
        run = pbx.deploy("--data", "televoc_verify=report")
        assert run.returncode == 0, run.output
        assert f"LimitNOFILE={LIMITS.nofile}\n" in lab.run("cat /etc/static/systemd/system/asterisk.service").stdout
        assert nofile(lab, asterisk_pid(lab)) == (min(LIMITS.nofile, LAB_HARD),) * 2
        conf = lab.run("cat /etc/sysctl.d/60-nixos.conf").stdout
        for key in ("net.core.rmem_max", "net.core.wmem_max"):
            assert f"{key}={LIMITS.sip_socket_buffer}\n" in conf
        caps = [int(Path(f"/proc/sys/net/core/{key}").read_text()) for key in ("rmem_max", "wmem_max")]
        if min(caps) < LIMITS.sip_socket_buffer:  # the lab shares the machine's kernel
            pytest.skip(
                f"this machine's net.core.rmem_max/wmem_max {caps} are below televoc's "
                f"{LIMITS.sip_socket_buffer} and the lab never writes them: the socket shows less"
            )
        assert sip_socket_buffers(lab) == (2 * LIMITS.sip_socket_buffer, 2 * LIMITS.sip_socket_buffer)
