"""The event's PBX host(s). Edit this for your event: one NixOS machine running Asterisk.

    pyinfra inventory.py deploy.py

Every host in `pbx` gets the event of group_data/event/ (or $TELEVOC_EVENT_DIR). SSH settings go
into the host's data; see pyinfra's SSH connector docs (ssh_user, ssh_port, ssh_key, ...).
"""

pbx = [
    ("pbx.example.org", {"ssh_user": "root"}),
]
