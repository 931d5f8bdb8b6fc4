"""An upstream SIP network for the trunk tests: a second lab whose Asterisk is configured by
hand (not by televoc), linked to the event's lab by a veth pair between their namespaces.

    with Lab(tmp / "event") as lab, Lab(tmp / "upstream") as up:
        upstream = Upstream.start(up, lab, password="...")   # 10.77.0.1 (event) <-> 10.77.0.2
        upstream.registrations()                            # what its Asterisk says

The upstream has:
+ an account 6000 (the event's trunk), with `password`, reached over the link; calls from
  the event's PBX (identified by its link address, then challenged) start in [from-venue]
  and may call the upstream's phones 5001 and 5002;
+ phones 5001 and 5002 (SIPp callees on its loopback, password PHONE_PASSWORD); their calls
  start in [from-phones]: 6000 followed by digits goes to the event over the registration
  (the user part of the event's registered contact replaced by the dialled number).
"""

from __future__ import annotations

from dataclasses import dataclass

from .lab import Lab

EVENT_ADDRESS, UPSTREAM_ADDRESS = "10.77.0.1", "10.77.0.2"
PHONE_PASSWORD = "upstream-phone-pw-1"
BLOCK = "6000"

CONFIG = """\
{ config, lib, pkgs, ... }:
{
  networking.firewall.allowedUDPPorts = [ 5060 ];
  networking.firewall.allowedUDPPortRanges = [ { from = 10000; to = 20000; } ];
  services.asterisk = {
    enable = true;
    confFiles = {
      "pjsip.conf" = ''
        [transport-udp]
        type=transport
        protocol=udp
        bind=0.0.0.0:5060

        ; the event's trunk: registers as 6000, calls from its address are challenged
        [6000]
        type=endpoint
        context=from-venue
        disallow=all
        allow=alaw,ulaw
        auth=6000
        aors=6000
        direct_media=no
        [6000]
        type=auth
        auth_type=userpass
        username=6000
        password=@PASSWORD@
        [6000]
        type=aor
        max_contacts=1
        remove_existing=yes
        [6000]
        type=identify
        endpoint=6000
        match=@EVENT@

        [phone](!)
        type=endpoint
        context=from-phones
        disallow=all
        allow=alaw,ulaw
        direct_media=no
        [5001](phone)
        auth=5001
        aors=5001
        callerid="Upstream One" <5001>
        [5001]
        type=auth
        auth_type=userpass
        username=5001
        password=@PHONE@
        [5001]
        type=aor
        max_contacts=1
        remove_existing=yes
        qualify_frequency=30
        [5002](phone)
        auth=5002
        aors=5002
        callerid="Upstream Two" <5002>
        [5002]
        type=auth
        auth_type=userpass
        username=5002
        password=@PHONE@
        [5002]
        type=aor
        max_contacts=1
        remove_existing=yes
        qualify_frequency=30
      '';
      "extensions.conf" = ''
        [from-venue]
        exten => _500X,1,Dial(PJSIP/''${EXTEN},20)
         same => n,Hangup()
        [from-phones]
        exten => _@BLOCK@X.,1,Dial(PJSIP/''${EXTEN}@6000,20)
         same => n,Hangup()
      '';
    };
  };
}
"""


@dataclass
class Upstream:
    lab: Lab  # the upstream's own lab
    event_lab: Lab

    @classmethod
    def start(cls, lab: Lab, event_lab: Lab, password: str) -> Upstream:
        event_lab.link(lab, EVENT_ADDRESS, UPSTREAM_ADDRESS)
        text = (
            CONFIG.replace("@PASSWORD@", password)
            .replace("@PHONE@", PHONE_PASSWORD)
            .replace("@EVENT@", EVENT_ADDRESS)
            .replace("@BLOCK@", BLOCK)
        )
        module = lab.root / "etc/nixos/televoc/asterisk.nix"
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(text)
        lab.run("nixos-rebuild switch", timeout=120)
        return cls(lab, event_lab)
