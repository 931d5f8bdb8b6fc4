"""The event's PBX host(s). Edit this for your event: one NixOS machine running Asterisk.

    pyinfra inventory.py deploy.py

Every host in `pbx` gets the event of group_data/event/ (or $TELEVOC_EVENT_DIR). SSH settings go
into the host's data; see pyinfra's SSH connector docs (ssh_user, ssh_port, ssh_key, ...).

The PBX's SSH host key is pinned: the first deploy sends the SIP passwords, so it must not go to
whoever answers first (pyinfra's default accepts any new key). Put the key, read on the PBX's
console (`cat /etc/ssh/ssh_host_ed25519_key.pub`), into pbx.known_hosts next to this file as
`pbx.example.org ssh-ed25519 AAAA...`; without it pyinfra refuses to connect.
"""

from pathlib import Path

pbx = [
    (
        "pbx.example.org",
        {
            "ssh_user": "root",
            "ssh_known_hosts_file": str(Path(__file__).parent / "pbx.known_hosts"),
            "ssh_strict_host_key_checking": "yes",
        },
    ),
]
