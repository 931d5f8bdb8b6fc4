"""Self-test of the snom phone simulator against the lab's real Asterisk 22 (plain script,
not pytest; needs root and pyVoIP 1.6.8, about 15 s once the lab's rootfs is cached).

    python3 tests/lab/snom_selftest.py [--keep]
    python3 tests/lab/snom_selftest.py --fake-registrar   # run by the above, in the namespace

Deploys a hand-written Asterisk config (PJSIP, HTTP static files, check-sync NOTIFY types),
publishes snom XML under /var/lib/asterisk/static-http/televoc/ as televoc will, and checks
that simulated phones fetch, register, answer qualify, follow check-sync NOTIFYs, adopt
over the web, reboot, reset and unregister on SIGTERM. Prints one line per check, the
Asterisk CLI output of the NOTIFY commands, timings, and a closing "N passed, M failed".
"""

import hashlib
import json
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.lab.lab import IP, Lab  # noqa: E402
from tests.lab.snom import SnomFleet, SnomPhone  # noqa: E402
from tests.lab.wait import until  # noqa: E402

ENDPOINT = """\
        [{name}]
        type=endpoint
        context=from-internal
        disallow=all
        allow=ulaw,alaw
        auth={name}
        aors={name}
        [{name}]
        type=auth
        auth_type=userpass
        username={name}
        password={password}
        [{name}]
        type=aor
        max_contacts=1
        remove_existing=yes
        qualify_frequency=5
"""
# pjsip_notify.conf: ";" starts a comment in Asterisk's config files, so the reboot variant
# needs "\\;" (unescaped, Asterisk sends "Event: check-sync" and drops ";reboot=true").
PASSWORDS = {f"saal{i}": f"averylongpassword{i}" for i in range(1, 5)}
CONFIG = """\
{ config, lib, pkgs, ... }:
{
  services.asterisk = {
    enable = true;
    confFiles = {
      "pjsip.conf" = ''
        [transport-udp]
        type=transport
        protocol=udp
        bind=127.0.0.1:5060
@ENDPOINTS@      '';
      "extensions.conf" = ''
        [from-internal]
        exten => 100,1,Answer()
         same => n,Hangup()
      '';
      "http.conf" = ''
        [general]
        enabled=yes
        bindaddr=127.0.0.1
        bindport=8088
        enablestatic=yes
      '';
      "pjsip_notify.conf" = ''
        [televoc-check-sync]
        Event=>check-sync
        [televoc-check-sync-reboot]
        Event=>check-sync\\;reboot=true
      '';
    };
  };
}
"""
PROV_DIR = "/var/lib/asterisk/static-http/televoc"
URL = "http://127.0.0.1:8088/static/televoc/{mac}.xml"
A, B, C, D, E = "000413ABCDEF", "000413ABCDF0", "000413000404", "000413000009", "000413000005"

results: list[tuple[str, bool]] = []
timings: dict[str, float] = {}
notify_outputs: list[tuple[str, str]] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    results.append((name, bool(ok)))
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f"\n     {detail}" if detail and not ok else ""),
          flush=True)
    return bool(ok)


def snom_xml(user: str | None, realname: str = "", active: str = "on", **globals_: str) -> str:
    """A provisioning file as televoc writes it: identity 1 for `user` (None: wiped)."""
    rows = [(name, None, value) for name, value in
            {"setting_server": URL, "http_user": "admin", **globals_}.items()]
    rows += [("user_active", 1, active), ("user_realname", 1, realname),
             ("user_name", 1, user or ""), ("user_pname", 1, user or ""),
             ("user_pass", 1, PASSWORDS.get(user, "") if active == "on" else ""),
             ("user_host", 1, "127.0.0.1:5060")]
    body = "".join(f'    <{n}{f" idx={chr(34)}{i}{chr(34)}" if i else ""} perm="R">{v}</{n}>\n'
                   for n, i, v in rows)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<settings>\n  <phone-settings e="2">\n'
            f"{body}  </phone-settings>\n</settings>\n")


def publish(lab: Lab, mac: str, xml: str) -> None:
    lab.run(f"printf %s {shlex.quote(xml)} > /tmp/{mac}.xml && "
            f"install -m 0640 -o root -g asterisk /tmp/{mac}.xml {PROV_DIR}/{mac}.xml && rm /tmp/{mac}.xml")


def notify(lab: Lab, args: str) -> str:
    out = lab.asterisk(f"pjsip send notify {args}")
    notify_outputs.append((f"pjsip send notify {args}", out))
    return out


def contacts(lab: Lab) -> dict[str, str]:
    """AOR -> status from `pjsip show contacts`."""
    found = {}
    for line in lab.asterisk("pjsip show contacts").splitlines():
        words = line.split()
        if len(words) >= 4 and words[0] == "Contact:" and "/sip:" in words[1]:
            found[words[1].split("/")[0]] = words[3]
    return found


def settled(fleet: SnomFleet, mac: str, predicate, timeout: float = 10) -> dict | None:
    """The phone's state once predicate(state) holds, or None after `timeout` seconds."""
    try:
        return fleet.wait(mac, predicate, timeout)
    except AssertionError as e:
        print(f"     {str(e)[:3000]}")
        return None


def main() -> int:
    keep = "--keep" in sys.argv
    workdir = Path(tempfile.mkdtemp(prefix="televoc-snom-selftest-"))
    lab = Lab(workdir / "lab")
    t0 = time.monotonic()
    lab.up()
    timings["Lab.up()"] = time.monotonic() - t0
    fleet = SnomFleet(lab, workdir / "snom")
    try:
        run_in_namespace(lab, "--fake-registrar")
        run_checks(lab, fleet)
    except AssertionError as e:  # a fleet.wait() that gave up: the rest depends on it
        check("fleet.wait", False, str(e))
    finally:
        fleet.stop()
        if keep:
            print(f"kept: python -m tests.lab down --workdir {lab.workdir}; phones: {fleet.workdir}")
        else:
            lab.down()
            for path in sorted(fleet.workdir.glob("*")):
                path.unlink()
            fleet.workdir.rmdir()
            workdir.rmdir()
    for command, out in notify_outputs:
        print(f"$ asterisk -rx '{command}'\n{out.rstrip() or '(no output)'}")
    for name, seconds in timings.items():
        print(f"time {name}: {seconds:.2f} s")
    failed = sum(1 for _, ok in results if not ok)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run_checks(lab: Lab, fleet: SnomFleet) -> None:
    endpoints = "".join(ENDPOINT.format(name=n, password=p) for n, p in PASSWORDS.items())
    lab.run("mkdir -p /etc/nixos/televoc && cat > /etc/nixos/televoc/asterisk.nix <<'EOF'\n"
            + CONFIG.replace("@ENDPOINTS@", endpoints) + "EOF")
    t0 = time.monotonic()
    r = lab.run("nixos-rebuild switch", check=False, timeout=120)
    timings["nixos-rebuild switch (starts Asterisk)"] = time.monotonic() - t0
    if not check("nixos-rebuild switch starts Asterisk", r.returncode == 0, r.stderr):
        return
    check("Asterisk HTTP server on 127.0.0.1:8088 serves /static/",
          "Bound to 127.0.0.1:8088" in (s := lab.asterisk("http show status")) and "/static/" in s, s)

    lab.run(f"install -d -m 0750 -o root -g asterisk {PROV_DIR}")
    publish(lab, A, snom_xml("saal1", "Saal Eins"))
    publish(lab, B, snom_xml("saal2", "Saal Zwei", http_pass="b-web-pass"))
    publish(lab, E, snom_xml("saal4", "Saal Vier", http_pass="e-web-pass"))
    modes = lab.run(f"stat -L -c '%a %U:%G' {PROV_DIR} {PROV_DIR}/{A}.xml").stdout.split("\n")
    check("provisioning dir 0750 root:asterisk, file 0640 root:asterisk",
          modes[:2] == ["750 root:asterisk", "640 root:asterisk"], str(modes))
    got = lab.run(f"curl -sS {URL.format(mac=A)}").stdout
    check("Asterisk serves the XML at /static/televoc/<MAC>.xml", got == snom_xml("saal1", "Saal Eins"), got)
    codes = [lab.run(f"curl -sS -o /dev/null -w '%{{http_code}}' {URL.format(mac=mac)}").stdout
             for mac in (C, A.lower())]
    check("unknown MAC (and the MAC in lower case): 404", codes == ["404", "404"], str(codes))

    t0 = time.monotonic()
    fleet.start([SnomPhone(A, 5101, 8101, URL), SnomPhone(B, 5102, 8102, None, "secondhand"),
                 SnomPhone(C, 5103, 8103, URL), SnomPhone(D, 5104, 8104, "http://127.0.0.1:9/{mac}.xml"),
                 SnomPhone(E, 5060, 80, URL, ip="127.0.0.5")])
    timings["SnomFleet.start() (5 phones)"] = time.monotonic() - t0
    s = fleet.wait(A, lambda s: s["registered"], 10, "registered")
    timings["phone A: start to registered"] = time.monotonic() - t0
    check("A fetched its XML at boot and registered as saal1",
          s["fetches"] == 1 and s["registered_as"] == "saal1" and s["settings"]["user_realname.1"] == "Saal Eins")
    avail = until(lambda: contacts(lab).get("saal1") == "Avail", 15)
    timings["phone A: registered to contact Avail (qualify answered)"] = avail or -1
    check("pjsip show contacts: saal1 Avail (OPTIONS answered)", avail is not None, lab.asterisk("pjsip show contacts"))

    fleet.wait(E, lambda s: s["registered"], 10, "registered")
    registered = until(lambda: contacts(lab).get("saal4") == "Avail", 10)
    contact = [line for line in lab.asterisk("pjsip show contacts").splitlines() if "saal4/" in line]
    check("E on its own address (127.0.0.5, ports 5060 and 80): contact sip:saal4@127.0.0.5:5060 Avail",
          registered is not None and "saal4/sip:saal4@127.0.0.5:5060;transport=udp" in "".join(contact), str(contact))
    code = lab.run("curl -s -o /dev/null -w '%{http_code}' -u admin:e-web-pass "
                   "'http://127.0.0.5/dummy.htm?settings=save&vol_ringer=9'").stdout
    check("E web from the PBX's chroot with curl -u (as televoc does): http://127.0.0.5/dummy.htm -> 200",
          code == "200" and settled(fleet, E, lambda s: s["settings"].get("vol_ringer") == "9") is not None, code)

    s = fleet.wait(C, lambda s: s["fetch_failures"] == 1, 10, "fetch failed")
    check("C: 404 for its MAC -> a failed fetch, no settings, not registered",
          s["last_fetch_status"] == 404 and s["fetches"] == 0 and not s["registered"]
          and s["settings"] == {"setting_server": URL}, json.dumps(s))
    s = fleet.wait(D, lambda s: s["fetch_failures"] == 1, 15, "fetch failed")
    check("D: unreachable setting_server -> a failed fetch ('error: ...')",
          str(s["last_fetch_status"]).startswith("error") and not s["registered"], json.dumps(s))

    # adopt B (second-hand: has a web password, no setting_server), then reboot it
    adopt = "/dummy.htm?settings=save&setting_server=" + URL.replace("{", "%7B").replace("}", "%7D")
    check("B web: no credentials -> 401", fleet.web(B, adopt) == 401)
    check("B web: wrong password -> 401", fleet.web(B, adopt, ("admin", "wrong")) == 401)
    check("B web: settings=save setting_server -> 200", fleet.web(B, adopt, ("admin", "secondhand")) == 200)
    s = fleet.wait(B, lambda s: s["settings"].get("setting_server") == URL, 5, "adopted")
    check("B: setting_server saved, nothing fetched or registered yet", s["fetches"] == 0 and not s["registered"])
    t0 = time.monotonic()
    check("B web: reboot -> 200", fleet.web(B, "/advanced_update.htm?reboot=Reboot", ("admin", "secondhand")) == 200)
    s = fleet.wait(B, lambda s: s["registered"], 10, "registered after reboot")
    timings["phone B: web reboot to registered"] = time.monotonic() - t0
    check("B: rebooted, fetched, registered as saal2", s["reboots"] == 1 and s["fetches"] == 1
          and s["registered_as"] == "saal2" and s["settings"]["http_pass"] == "b-web-pass")
    check("B web: the fetched http_pass replaced the old one",
          fleet.web(B, "/nothing", ("admin", "secondhand")) == 401 and fleet.web(B, "/nothing", ("admin", "b-web-pass")) == 404)

    # check-sync: a changed display name
    publish(lab, A, snom_xml("saal1", "Saal Eins neu"))
    t0 = time.monotonic()
    out = notify(lab, "televoc-check-sync endpoint saal1")
    s = fleet.wait(A, lambda s: s["notifies"] == 1 and s["fetches"] == 2 and s["registrations"] == 2, 10, "re-fetched")
    timings["phone A: NOTIFY to re-fetched and re-registered"] = time.monotonic() - t0
    check("NOTIFY check-sync: A answered, re-fetched, re-registered with the new display name",
          "Sending NOTIFY" in out and s["identity"]["display_name"] == "Saal Eins neu" and s["registered"]
          and s["last_notify_event"] == "check-sync", json.dumps(s))

    # several endpoints in one command; endpoints without a contact, unknown endpoints
    out = notify(lab, "televoc-check-sync endpoint saal1 saal2")
    check("one command, two endpoints: both phones notified",
          settled(fleet, A, lambda s: s["notifies"] == 2) and settled(fleet, B, lambda s: s["notifies"] == 1
                                                                       and s["fetches"] == 2), out)
    notify(lab, "televoc-check-sync endpoint saal3")
    notify(lab, "televoc-check-sync endpoint nosuch")
    time.sleep(0.5)
    n = fleet.state(A)["notifies"]
    out = notify(lab, "televoc-check-sync endpoint saal3 saal1")
    check("an endpoint without a contact before saal1 in the same command: saal1 still notified",
          settled(fleet, A, lambda s: s["notifies"] == n + 1), out)

    # web password from the XML
    publish(lab, A, snom_xml("saal1", "Saal Eins neu", http_pass="a-web-pass"))
    notify(lab, "televoc-check-sync endpoint saal1")
    fleet.wait(A, lambda s: s["settings"].get("http_pass") == "a-web-pass", 10, "http_pass fetched")
    header = lab.run("curl -sS -o /dev/null -D - http://127.0.0.1:8101/dummy.htm").stdout
    check("A web: no credentials -> 401 with WWW-Authenticate: Basic realm=\"snom\"",
          fleet.web(A, "/dummy.htm?settings=save") == 401 and 'WWW-Authenticate: Basic realm="snom"' in header, header)
    check("A web: right credentials -> 200, unknown page -> 404",
          fleet.web(A, "/dummy.htm?settings=save", ("admin", "a-web-pass")) == 200
          and fleet.web(A, "/index.htm", ("admin", "a-web-pass")) == 404)

    # check-sync;reboot=true
    t0 = time.monotonic()
    notify(lab, "televoc-check-sync-reboot endpoint saal1")
    s = fleet.wait(A, lambda s: s["reboots"] == 1 and s["registered"], 10, "rebooted")
    timings["phone A: NOTIFY reboot=true to registered again"] = time.monotonic() - t0
    check("NOTIFY check-sync;reboot=true: A rebooted (unregister, fetch, register)",
          s["last_notify_event"] == "check-sync;reboot=true" and s["registrations"] == 3, json.dumps(s))

    # identity 1 changes to another account
    publish(lab, A, snom_xml("saal3", "Saal Drei", http_pass="a-web-pass"))
    notify(lab, "televoc-check-sync endpoint saal1")
    s = fleet.wait(A, lambda s: s["registered_as"] == "saal3", 10, "registered as saal3")
    gone = until(lambda: "saal1" not in contacts(lab) and contacts(lab).get("saal3") == "Avail", 10)
    check("identity changed by a re-fetch: saal1 unregistered, saal3 registered and Avail",
          gone is not None, lab.asterisk("pjsip show contacts"))

    # deactivated: user_active off, user_pass empty
    publish(lab, A, snom_xml("saal3", "Saal Drei", active="off", http_pass="a-web-pass"))
    t0 = time.monotonic()
    n = fleet.state(A)["notifies"]
    notify(lab, "televoc-check-sync endpoint saal3")
    s = fleet.wait(A, lambda s: not s["registered"] and s["notifies"] == n + 1, 10, "unregistered")
    gone = until(lambda: "saal3" not in contacts(lab), 5)
    timings["phone A: NOTIFY to contact gone (user_active off)"] = time.monotonic() - t0
    time.sleep(2)
    s2 = fleet.state(A)
    check("user_active off + empty user_pass: A unregistered (contact gone) and stays so",
          gone is not None and s["identity"] is None and "user_pass.1" not in s["settings"]
          and not s2["registered"] and s2["registrations"] == s["registrations"]
          and "saal3" not in contacts(lab), json.dumps(s2))

    # factory reset of B
    t0 = time.monotonic()
    check("B web: reset -> 200", fleet.web(B, "/advanced_update.htm?reset=Reset", ("admin", "b-web-pass")) == 200)
    s = fleet.wait(B, lambda s: s["resets"] == 1, 10, "reset")
    gone = until(lambda: "saal2" not in contacts(lab), 5)
    timings["phone B: web reset to contact gone"] = time.monotonic() - t0
    check("B: factory reset -> unregistered, settings empty, contact gone",
          not s["registered"] and s["settings"] == {} and s["identity"] is None and gone is not None, json.dumps(s))
    check("B web after reset: no password any more (settings=save without credentials -> 200)",
          fleet.web(B, "/dummy.htm?settings=save") == 200, json.dumps(fleet.state(B)))

    # A: back to saal1 by a web reboot; then SIGTERM unregisters it
    publish(lab, A, snom_xml("saal1", "Saal Eins", http_pass="a-web-pass"))
    fleet.web(A, "/advanced_update.htm?reboot=Reboot", ("admin", "a-web-pass"))
    fleet.wait(A, lambda s: s["registered_as"] == "saal1" and s["reboots"] == 2, 10, "registered again")
    check("A: web reboot fetched saal1 and registered",
          until(lambda: contacts(lab).get("saal1") == "Avail", 10) is not None)
    t0 = time.monotonic()
    fleet.stop()
    timings["SnomFleet.stop() (SIGTERM, unregister)"] = time.monotonic() - t0
    s = fleet.state(A)
    check("SIGTERM: exit 0, A and E unregistered (no contact left), final state written",
          fleet.proc.returncode == 0 and not s["registered"] and contacts(lab) == {},
          f"rc {fleet.proc.returncode} {lab.asterisk('pjsip show contacts')}")
    log = (fleet.workdir / "snomsim.log").read_text()
    out = (fleet.workdir / "snomsim.out").read_text()
    check("no tracebacks in snomsim.log or its stdout/stderr", "Traceback" not in log + out, out[-2000:])


def run_in_namespace(lab: Lab, mode: str) -> None:
    """Run this script with `mode` inside the lab's namespace; take over its check lines."""
    r = subprocess.run([IP, "netns", "exec", lab.netns, sys.executable, __file__, mode],
                       capture_output=True, text=True, timeout=60, check=False)
    for line in r.stdout.splitlines():
        if line[:4] in ("ok  ", "FAIL"):
            check(line[5:], line.startswith("ok"))
        else:
            print(line)
    check(f"{mode}: ran to its end", r.returncode == 0, r.stderr[-3000:])


def fake_registrar() -> int:
    """SnomSIPClient against a scripted registrar that sends OPTIONS and NOTIFY in the middle
    of REGISTER transactions (what Asterisk's qualify can do) and a stale response, and checks
    the digest (auth user, qop=auth, opaque) and the display name. Inside a namespace only."""
    from tests.lab.snomsim import Identity, SnomSIPClient
    seen: list[str] = []
    phone = SnomSIPClient(5199, lambda method, message: seen.append(method))
    registrar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    registrar.bind(("127.0.0.1", 5198))
    registrar.settimeout(3)
    phone.open()
    ident = Identity("127.0.0.1", 5198, "saal9", "auth9", "pw9", 'Saal "9"', 120)
    phone.use(ident)
    digest_ok, displayed, expires = [], [], []

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    def request(method: str, cseq: int, extra: str = "") -> bytes:
        return (f"{method} sip:saal9@127.0.0.1:5199 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5198;rport;"
                f"branch=z9hG4bK{method}{cseq}\r\nFrom: <sip:saal9@127.0.0.1>;tag=r{cseq}\r\n"
                f"To: <sip:saal9@127.0.0.1>\r\nCall-ID: fake-{method}-{cseq}\r\nCSeq: {cseq} {method}\r\n"
                f"{extra}Content-Length: 0\r\n\r\n").encode()

    def response(reg: str, code: str, cseq_shift: int = 0, extra: str = "") -> bytes:
        head = dict(re.findall(r"^(Via|From|To|Call-ID|CSeq): (.*?)\r$", reg, re.M))
        number = int(head["CSeq"].split()[0]) + cseq_shift
        return (f"SIP/2.0 {code}\r\nVia: {head['Via']}\r\nFrom: {head['From']}\r\nTo: {head['To']};tag=x\r\n"
                f"Call-ID: {head['Call-ID']}\r\nCSeq: {number} REGISTER\r\n{extra}Content-Length: 0\r\n\r\n").encode()

    def next_register() -> str:
        """The next REGISTER (skipping the phone's answers to OPTIONS and NOTIFY)."""
        for _ in range(5):
            message = registrar.recv(8192).decode()
            if message.startswith("REGISTER"):
                return message
        raise RuntimeError("no REGISTER")

    def serve_one_transaction(tag: int) -> None:
        """REGISTER -> (OPTIONS to the phone) 401; REGISTER with auth -> (NOTIFY, stale 200) 200."""
        to_phone = ("127.0.0.1", 5199)
        reg = next_register()
        registrar.sendto(request("OPTIONS", tag), to_phone)
        challenge = 'WWW-Authenticate: Digest realm="asterisk",nonce="n1",opaque="o1",algorithm=MD5,qop="auth"\r\n'
        registrar.sendto(response(reg, "401 Unauthorized", extra=challenge), to_phone)
        reg = next_register()
        auth = dict(re.findall(r'(\w+)="?([^",\r]*)"?', reg.split("Authorization: Digest ", 1)[1].split("\r\n")[0]))
        expected = md5(f"{md5('auth9:asterisk:pw9')}:n1:{auth.get('nc')}:{auth.get('cnonce')}:auth:"
                       f"{md5('REGISTER:' + auth.get('uri', ''))}")
        digest_ok.append(auth.get("username") == "auth9" and auth.get("response") == expected
                         and auth.get("opaque") == "o1" and auth.get("uri") == "sip:127.0.0.1:5198")
        displayed.append('From: "Saal \\"9\\"" <sip:saal9@127.0.0.1:5198>' in reg)
        expires.append(re.search(r"^Expires: (\d+)", reg, re.M)[1])
        registrar.sendto(request("NOTIFY", tag + 1, "Event: check-sync;reboot=true\r\n"), to_phone)
        registrar.sendto(response(reg, "200 OK", cseq_shift=-1), to_phone)  # stale
        registrar.sendto(response(reg, "200 OK"), to_phone)

    results = {}
    for what, call in (("register", phone.register), ("deregister", phone.deregister)):
        server = threading.Thread(target=serve_one_transaction, args=(len(results) * 10 + 1,))
        server.start()
        results[what] = call()
        server.join(5)
    time.sleep(0.3)
    phone.close()
    check(f"fake registrar: register() and deregister() succeed around OPTIONS, NOTIFY and a stale 200 "
          f"({results}, {phone.last_error or 'no error'})", all(results.values()))
    check(f"fake registrar: digest with auth user, qop=auth, opaque ({digest_ok})", digest_ok == [True, True])
    check(f"fake registrar: display name quoted in From ({displayed})", displayed == [True, True])
    check(f"fake registrar: Expires 120 then 0 ({expires})", expires == ["120", "0"])
    check(f"fake registrar: each OPTIONS and NOTIFY answered once ({seen})",
          sorted(seen) == ["NOTIFY", "NOTIFY", "OPTIONS", "OPTIONS"])
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--fake-registrar"]:
        sys.exit(fake_registrar())
    sys.exit(main())
