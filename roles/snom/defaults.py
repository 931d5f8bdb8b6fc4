"""Defaults of the snom role, each overridable as pyinfra data (`--data NAME=VALUE`)."""

# Where the provisioning files live on the PBX: Asterisk's own HTTP server serves
# <astdatadir>/static-http/ as /static/ (http.conf enablestatic=yes). root:asterisk 0640.
snom__provisioning_dir = "/var/lib/asterisk/static-http/televoc"
# Phones whose settings changed and that still have to be told to fetch them (survives an
# interrupted run: the next run tells them).
snom__pending_path = "/var/lib/televoc/notify-pending"
# How long teardown waits for wiped phones to unregister (seconds).
snom__wipe_wait = 60
# teardown: "accounts" removes the event's accounts and keeps the PBX running; "stop" stops
# and disables Asterisk.
televoc_teardown = "accounts"
# teardown: true resets each phone to factory settings over its web interface instead of
# provisioning a wiped profile (needs the phone's address: registered contact or `address`).
televoc_factory_reset = False
# adopt.py: the phones to adopt, comma separated names, or "all" (phones with mac and address).
televoc_adopt = "all"
