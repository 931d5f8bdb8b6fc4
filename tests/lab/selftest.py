"""Self-test of the lab (a plain script, not pytest; needs root, about 30 s).

    python3 tests/lab/selftest.py [--keep]

Brings a lab up, deploys a hand-written services.asterisk config the way a user would
(ssh + nixos-rebuild switch), and checks the lab's promises: the NixOS-like store and
links, SIP registration and calls, phones, failed evaluations changing nothing, no
restart on an unchanged switch, the same-length-password reload bug, and a clean down().
Prints one line per check and a closing "N passed, M failed".
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.lab.lab import BUILD_SCRIPT, Lab, _mounts_under, _proc_alive  # noqa: E402
from tests.lab.wait import until  # noqa: E402

CONFIG = """\
{ config, lib, pkgs, ... }:
{
  services.asterisk = {
    enable = @ENABLE@;
    confFiles = {
      "pjsip.conf" = ''
        [transport-udp]
        type=transport
        protocol=udp
        bind=127.0.0.1:5060
        [saal1]
        type=endpoint
        context=from-internal
        disallow=all
        allow=gsm,ulaw,alaw
        auth=saal1
        aors=saal1
        [saal1]
        type=auth
        auth_type=userpass
        username=saal1
        password=@PASSWORD@
        [saal1]
        type=aor
        max_contacts=1
        remove_existing=yes
        qualify_frequency=30
      '';
      "extensions.conf" = ''
        [from-internal]
        exten => 100,1,Answer()
         same => n,Wait(1)
         same => n,Playback(hello-world)
         same => n,Hangup()
        exten => 200,1,Dial(PJSIP/saal1,10)
         same => n,Hangup()
      '';
    };
  };
}
"""
PW1, PW2, PW3 = "averylongpassword1", "averylongpassword2", "averylongpassword-3"

results: list[tuple[str, bool]] = []
timings: dict[str, float] = {}


def check(name: str, ok: bool, detail: str = "") -> bool:
    results.append((name, bool(ok)))
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f"\n     {detail}" if detail and not ok else ""),
          flush=True)
    return bool(ok)


def timed(name: str, t0: float) -> None:
    timings[name] = time.monotonic() - t0


def config(password: str = PW1, enable: bool = True) -> str:
    return CONFIG.replace("@PASSWORD@", password).replace("@ENABLE@", "true" if enable else "false")


def ssh(lab: Lab, command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(lab.ssh_command(command), input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)


def deploy(lab: Lab, text: str) -> subprocess.CompletedProcess:
    """Upload televoc/asterisk.nix and switch, over ssh, as the deploy will."""
    ssh(lab, "mkdir -p /etc/nixos/televoc && cat > /etc/nixos/televoc/asterisk.nix", stdin=text)
    return ssh(lab, "nixos-rebuild switch")


def main() -> int:
    keep = "--keep" in sys.argv
    t0 = time.monotonic()
    r = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, check=True)
    timed("build-rootfs.sh (cached or built)", t0)
    rootfs = r.stdout.strip().splitlines()[-1]
    size = subprocess.run(["du", "-sh", rootfs], capture_output=True, text=True).stdout.split()[0]
    print(f"rootfs {rootfs} ({size})")

    workdir = Path(tempfile.mkdtemp(prefix="televoc-lab-selftest-")) / "lab"
    lab = Lab(workdir)
    t0 = time.monotonic()
    lab.up()
    timed("Lab.up()", t0)
    pids = {}
    try:
        pids = run_checks(lab)
    finally:
        if keep:
            print(f"kept: python -m tests.lab down --workdir {workdir}")
        else:
            t0 = time.monotonic()
            lab.down()
            timed("Lab.down()", t0)
            check("down: no mounts left", not _mounts_under(workdir))
            netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
            check("down: network namespace deleted", lab.netns not in netns)
            check("down: no lab process alive", not [p for p in pids.values() if _proc_alive(p)],
                  str(pids))
            check("down: workdir removed", not workdir.exists())
            workdir.parent.rmdir()
    cli_checks()
    for name, seconds in timings.items():
        print(f"time {name}: {seconds:.2f} s")
    failed = sum(1 for _, ok in results if not ok)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run_checks(lab: Lab) -> dict[str, int]:
    pids = {"sshd": lab._sshd_pid, "socat": lab._socat_pid}
    check("ssh root@127.0.0.1 -p PORT works", ssh(lab, "true").returncode == 0)
    check("pyinfra_host_data has the SSH keys", set(lab.pyinfra_host_data()) == {
        "ssh_hostname", "ssh_port", "ssh_user", "ssh_key", "ssh_known_hosts_file",
        "ssh_strict_host_key_checking"} and isinstance(lab.pyinfra_host_data()["ssh_port"], int))
    check("Asterisk not running after up()", lab.run("systemctl is-active asterisk", check=False).returncode == 3)
    r = ssh(lab, "nixos-rebuild switch")
    check("switch before the deploy fails (import missing), /etc/static absent",
          r.returncode != 0 and lab.run("test -e /etc/static", check=False).returncode != 0, r.stderr)

    phone = lab.start_phone("saal1", PW1, 5090)  # before the PBX exists: must register later
    pids["phone"] = phone.pid
    t0 = time.monotonic()
    r = deploy(lab, config())
    timed("first nixos-rebuild switch over ssh (starts Asterisk)", t0)
    check("first switch starts asterisk.service", r.returncode == 0
          and "starting the following units: asterisk.service" in r.stderr, r.stderr)
    pid = lab.run("cat /run/televoc-lab/asterisk.pid", check=False).stdout.strip()
    pids["asterisk"] = int(pid) if pid.isdigit() else 0
    check("systemctl is-active asterisk", lab.run("systemctl is-active asterisk", check=False).stdout.strip() == "active")
    store = lab.run("readlink /etc/static").stdout.strip()
    chain = lab.run("readlink /etc/asterisk/pjsip.conf; readlink -f /etc/asterisk/pjsip.conf;"
                    " stat -c '%a %Y' \"$(readlink -f /etc/asterisk/pjsip.conf)\";"
                    " stat -c '%a %Y' \"$(readlink -f /etc/static)\"").stdout.split("\n")
    check("pjsip.conf -> /etc/static/asterisk/pjsip.conf -> /nix/store, 0444, mtime 1",
          chain[0] == "/etc/static/asterisk/pjsip.conf" and chain[1].startswith("/nix/store/")
          and chain[2] == "444 1" and chain[3] == "555 1", str(chain))

    t0 = time.monotonic()
    check("register with the right password", lab.register("saal1", PW1, 5070))
    timed("one SIPp REGISTER", t0)
    check("register with a wrong password fails", not lab.register("saal1", PW1[:-1] + "x", 5071))
    check("unregister", lab.unregister("saal1", PW1, 5070))

    t0 = time.monotonic()
    avail = until(lambda: "saal1-" in (c := lab.asterisk("pjsip show contacts")) and "Avail" in c, 40)
    timings["baresip started before the PBX: Avail after switch"] = time.monotonic() - t0
    check("baresip phone registered and qualifies Avail", avail is not None,
          lab.asterisk("pjsip show contacts") + phone.output()[-1500:])

    t0 = time.monotonic()
    c = lab.call("saal1", PW1, "100", 5072, expect_bye=True)
    timed("call 100 (hello-world, far end hangs up)", t0)
    check("call 100 answered, BYE from the PBX, RTP received",
          c.answered and c.remote_bye and c.rtp_packets_received > 20,
          f"{c.answered} {c.remote_bye} {c.rtp_packets_received}\n{c.output[-1500:]}")
    c = lab.call("saal1", PW1, "200", 5073, hold_seconds=2)
    check("call 200 -> the baresip phone auto-answers, we hang up",
          c.answered and not c.remote_bye and c.returncode == 0 and c.rtp_packets_received > 0,
          f"{c.answered} {c.remote_bye} {c.returncode} {c.rtp_packets_received}\n{c.output[-1500:]}")
    check("asterisk -rx output is clean (no EID warning)",
          lab.asterisk("core show version").startswith("Asterisk 22"))

    r = deploy(lab, config().replace("enable = true;", "enable = true"))
    check("Nix syntax error: nixos-rebuild fails, /etc/static unchanged",
          r.returncode != 0 and "syntax error" in r.stderr
          and lab.run("readlink /etc/static").stdout.strip() == store, r.stderr)
    r = deploy(lab, config().replace("enable = true;", "enable = true; foo = 1;"))
    check("unknown option: nixos-rebuild fails, /etc/static unchanged",
          r.returncode != 0 and "The option `services.asterisk.foo' does not exist" in r.stderr
          and lab.run("readlink /etc/static").stdout.strip() == store, r.stderr)
    gens = lab.run("ls /nix/var/nix/profiles").stdout
    r = deploy(lab, config())
    check("same config again: same store path, no new generation, same Asterisk PID",
          r.returncode == 0 and lab.run("readlink /etc/static").stdout.strip() == store
          and lab.run("ls /nix/var/nix/profiles").stdout == gens
          and lab.run("cat /run/televoc-lab/asterisk.pid").stdout.strip() == pid, r.stderr)

    # The bug televoc fixes: a same-size pjsip.conf is not re-read on reload (mtime 1).
    r = deploy(lab, config(PW2))
    lab.asterisk("core reload")
    time.sleep(0.5)
    old_ok, new_ok = lab.register("saal1", PW1, 5074), lab.register("saal1", PW2, 5075)
    check("BUG reproduces: same-length new password + switch + core reload -> old one still works",
          r.returncode == 0 and old_ok and not new_ok and
          lab.run("cat /run/televoc-lab/asterisk.pid").stdout.strip() == pid, f"old {old_ok} new {new_ok}")
    deploy(lab, config(PW3))
    lab.asterisk("core reload")
    time.sleep(0.5)
    check("a password of another length is applied by core reload",
          lab.register("saal1", PW3, 5076) and not lab.register("saal1", PW1, 5077))

    lab.stop_all_phones()
    check("phone stopped (SIGINT)", not _proc_alive(pids["phone"]))
    r = deploy(lab, config(PW3, enable=False))
    check("enable = false: Asterisk stopped, /etc/asterisk links removed",
          r.returncode == 0 and "stopping the following units: asterisk.service" in r.stderr
          and lab.run("systemctl is-active asterisk", check=False).returncode == 3
          and lab.run("ls /etc/asterisk").stdout.strip() == "", r.stderr)
    r = deploy(lab, config(PW3))
    check("enable again: started again", r.returncode == 0 and
          lab.run("systemctl is-active asterisk", check=False).returncode == 0, r.stderr)
    pid = lab.run("cat /run/televoc-lab/asterisk.pid", check=False).stdout.strip()
    pids["asterisk-2"] = int(pid) if pid.isdigit() else 0
    return pids


def cli_checks() -> None:
    """python -m tests.lab up/down: the instance outlives the CLI process."""
    workdir = Path(tempfile.mkdtemp(prefix="televoc-lab-cli-")) / "lab"
    repo = Path(__file__).resolve().parents[2]
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "tests.lab", "up", "--workdir", str(workdir)],
                       cwd=repo, capture_output=True, text=True, timeout=300)
    timed("python -m tests.lab up", t0)
    state = json.loads((workdir / "lab.json").read_text()) if r.returncode == 0 else {}
    ok = r.returncode == 0 and subprocess.run(
        ["ssh", "-i", state["ssh_key"], "-p", str(state["ssh_port"]), "-o", "BatchMode=yes",
         "-o", f"UserKnownHostsFile={state['known_hosts']}", "root@127.0.0.1", "true"],
        capture_output=True, timeout=30).returncode == 0
    check("CLI up: lab.json written, ssh works after the CLI exited", ok, r.stderr)
    r = subprocess.run([sys.executable, "-m", "tests.lab", "down", "--workdir", str(workdir)],
                       cwd=repo, capture_output=True, text=True, timeout=300)
    check("CLI down: workdir and namespace gone", r.returncode == 0 and not workdir.exists()
          and state.get("netns", "?") not in subprocess.run(["ip", "netns", "list"],
                                                            capture_output=True, text=True).stdout,
          r.stderr)
    workdir.parent.rmdir()


if __name__ == "__main__":
    sys.exit(main())
