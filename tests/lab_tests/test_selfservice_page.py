"""The registration page in the lab, driven by headless Chromium (Debian's chromium, over the
DevTools protocol: lab/browser.py): a deploy with `self_service:` serves it; a participant
claims a number for a softphone and reads the token, the release secret and the SIP
credentials; SIPp registers with them; a POST without the form's CSRF token is refused; a
flood of claims from one source gets 429; a wrong release secret is logged for fail2ban
without the secret, and the right one releases the number.

One lab for the module: the `pbx` fixture deploys. What a test needs from another step is a
module fixture that does it once, for whichever test asks first: `alice` is the browser's
claim of 2345 (what the page showed), `flood` the burst of claims from one source (it needs
Alice's claim as the only one before it, so it asks for `alice`; the release asks for `flood`,
so the flood always comes before the release). Each test therefore passes alone (`-k`) as in
the whole file. File order still matters in two places, both for the whole-file run: the
CSRF test (Alice's claim the only one) comes before the flood, and the teardown, which ends
the lab's page, comes last. The screenshots are in the module's work directory (printed by
the claim's fixture).
"""

from __future__ import annotations

import json
import re
import shlex

import pytest

from lab.browser import Browser
from lab.deploys import Deployment, copy_example_event
from lab.lab import PBX_PHONE_IP, Lab
from lab.machine import IP
from lab.wait import wait_for
from roles.selfservice.files import page as pagecode
from roles.shared import names

pytestmark = pytest.mark.lab

SELF_SERVICE = """
self_service:
  claimable: {first: 2000, last: 2999}
  temporary: {first: 9000, last: 9099}
  info_desk: infodesk
"""
URL = "http://127.0.0.1:8080"  # the example event in the lab: pbx_address 127.0.0.1, page_port's default
LOG = "/var/log/televoc-page/page.log"


def status(lab: Lab, *curl: str) -> str:
    """The HTTP status of a curl run inside the PBX's namespace (from the phone network: the
    lab's example event has 127.0.0.0/8)."""
    cmd = "curl -s -o /dev/null --max-time 5 -w '%{http_code}' " + " ".join(shlex.quote(a) for a in curl)
    return lab.run(cmd, check=False).stdout


def claims(lab: Lab) -> dict[str, str]:
    read = json.loads(lab.run(f"{names.SELFSERVICE_TOOL} read").stdout)
    return {c[0]: c[1] for c in read["claims"]}


@pytest.fixture(scope="module")
def pbx(tmp_path_factory):
    work = tmp_path_factory.mktemp("selfservice-page")
    event = copy_example_event(work / "event")
    with open(event / "event.yml", "a") as f:
        f.write(SELF_SERVICE)
    with Lab(work / "lab") as lab:
        deployment = Deployment.prepare(lab, work, event)
        first = deployment.deploy("--data", "televoc_verify=report")
        assert first.returncode == 0, first.output
        wait_for(lambda: status(lab, URL + "/") == "200", 20, "the registration page answers")
        deployment.work = work  # type: ignore[attr-defined]
        yield deployment


def browser(pbx) -> Browser:
    return Browser(prefix=[IP, "netns", "exec", pbx.lab.netns])


@pytest.fixture(scope="module")
def alice(pbx) -> dict[str, str]:
    """Alice claims 2345 for a softphone in the browser, once for the module: what the page
    showed (its intro before the claim, the heading and the credentials after it)."""
    with browser(pbx) as b:
        b.open(URL + "/")
        shown = {"intro": b.text()}
        b.screenshot(pbx.work / "page-form.png")
        b.fill({"#number": "2345", "#name": "Alice", "input[name=kind][value=softphone]": ""})
        b.click("form[action='/claim'] button")
        shown["h1"] = b.text("h1")
        shown.update(
            {k: b.text(f"#{k}") for k in ("token", "release-secret", "sip-server", "sip-user", "sip-password")}
        )
        b.screenshot(pbx.work / "page-claimed.png")
    print(f"screenshots: {pbx.work / 'page-form.png'}, {pbx.work / 'page-claimed.png'}")
    return shown


def test_a_participant_claims_a_softphone_number_and_it_registers(pbx, alice):
    lab = pbx.lab
    given = alice
    assert "Numbers 2000 to 2999 can be claimed; 1000 are free" in alice["intro"]
    assert alice["h1"] == "2345 is yours, Alice"
    assert re.fullmatch(r"\d{6}", given["token"]) and given["sip-user"] == "2345"
    assert given["sip-server"] == "127.0.0.1"
    assert claims(lab) == {"2345": "Alice"}
    # the softphone's path: SIPp registers with what the page showed, and not with a wrong password
    assert lab.register("2345", given["sip-password"], 5090, timeout=5)
    assert not lab.register("2345", given["sip-password"] + "x", 5091, timeout=5)
    # nothing the page showed is in its log
    log = lab.run(f"cat {LOG}").stdout
    assert "televoc-page: claimed 2345 (softphone) from 127.0.0.1" in log
    assert not any(given[k] in log for k in ("token", "release-secret", "sip-password"))


def test_a_post_without_the_forms_csrf_token_is_refused(pbx, alice):
    # Alice's claim the only one: in the whole file this test comes before the flood
    got = status(pbx.lab, "-d", "number=2346", "-d", "name=Mallory", "-d", "kind=softphone", URL + "/claim")
    assert got == "400"
    assert claims(pbx.lab) == {"2345": "Alice"}


@pytest.fixture(scope="module")
def flood(pbx, alice) -> list[str]:
    """Eight claims in a row from 127.0.0.1, once for the module, after Alice's (by the
    browser, the only claim so far): the HTTP status of each."""
    script = (
        "for i in 1 2 3 4 5 6 7 8; do"
        f' t=$(curl -s --max-time 5 -c /tmp/jar -b /tmp/jar {URL}/ | sed -n \'s/.*name="csrf_token" value="\\([^"]*\\)".*/\\1/p\' | head -n1);'
        f" curl -s -o /dev/null --max-time 5 -w '%{{http_code}} ' -b /tmp/jar -c /tmp/jar --data-urlencode csrf_token=$t"
        f" -d name=Flood$i -d kind=snom -d in_directory=no {URL}/claim;"
        " done"
    )
    return pbx.lab.run(script, timeout=60).stdout.split()


def test_a_flood_of_claims_from_one_source_is_limited(pbx, flood):
    limit = pagecode.LIMITS["claims"][0]
    codes = flood
    assert codes == ["201"] * (limit - 1) + ["429"] * (8 - limit + 1), codes
    assert len(claims(pbx.lab)) == limit
    assert re.search(
        rf"televoc-page: claim refused, {limit} claims an hour from 127\.0\.0\.1$",
        pbx.lab.run(f"cat {LOG}").stdout,
        re.M,
    )


def test_a_wrong_release_secret_is_logged_for_fail2ban_and_the_right_one_releases(pbx, alice, flood):
    # Alice's claim of 2345 and its release secret; `flood` so that the flood, which counts
    # Alice's claim, is done before this releases it
    lab = pbx.lab
    jail = lab.run("fail2ban-client status televoc-page", check=False)
    assert jail.returncode == 0 and "File list:" in jail.stdout and LOG in jail.stdout, jail.stdout + jail.stderr
    with browser(pbx) as b:
        b.open(URL + "/")
        b.fill({"#release-number": "2345", "#secret": "not-the-secret"})
        b.click("form[action='/release'] button")
        assert "2345: no claim with that secret" in b.text()
        assert "2345" in claims(lab)
        b.open(URL + "/")
        b.fill({"#release-number": "2345", "#secret": alice["release-secret"]})
        b.click("form[action='/release'] button")
        assert "2345 is free again" in b.text()
    assert "2345" not in claims(lab)
    log = lab.run(f"cat {LOG}").stdout
    assert re.search(r"^\S+Z televoc-page: wrong release secret for 2345 from 127\.0\.0\.1$", log, re.M), log
    assert "not-the-secret" not in log and alice["release-secret"] not in log
    # the released number no longer registers
    assert not lab.register("2345", alice["sip-password"], 5092, timeout=5)


def test_the_page_is_served_to_the_phone_network_only(pbx):
    # The lab's example event has the phone network 127.0.0.0/8: from 10.23.0.5 (the phones'
    # namespace, across the PBX's firewall) the page's port is dropped, although the page
    # listens on every address (the example event has no pbx_address).
    lab = pbx.lab
    listening = lab.run("ss -Hltn 'sport = :8080'", check=False).stdout
    assert "0.0.0.0:8080" in listening, listening
    source = lab.phone_address("10.23.0.5")
    assert lab.http_status_phone(source, f"http://{PBX_PHONE_IP}:8080/") == "000"
    assert status(lab, URL + "/") == "200"  # and from the phone network it answers


def test_the_teardown_stops_the_page_and_removes_the_claims(pbx):
    # needs only the deploy; it ends the page, so in the whole file it comes last
    hand = "televoc_reset_by_hand=saal1,saal2,backoffice"  # the example's phones were set up by hand
    run = pbx.run("teardown.py", "--data", f"selfservice__export_dir={pbx.work / 'claims'}", "--data", hand)
    assert run.returncode == 0, run.output
    assert pbx.lab.run("ss -Hltn 'sport = :8080'", check=False).stdout.strip() == ""
    assert status(pbx.lab, URL + "/") == "000"
    assert pbx.lab.run(f"test -e {names.SELFSERVICE_DB}", check=False).returncode == 1
