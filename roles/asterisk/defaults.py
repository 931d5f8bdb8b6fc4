"""Defaults of the asterisk role, each overridable as pyinfra data (`--data NAME=VALUE`)."""

# The Asterisk CLI; -C keeps a NixOS build from looking for its control socket in the store.
asterisk__cli = "asterisk -C /etc/asterisk/asterisk.conf"
# The file with the SIP passwords, outside the world-readable Nix store (root:asterisk 0640).
asterisk__secrets_path = "/var/lib/televoc/pjsip-secrets.conf"
# How long to wait for Asterisk to take a new config after a reload or a start (seconds).
asterisk__reload_wait = 15
# How the run treats phones without a contact: "strict" fails naming them, "report" only prints.
televoc_verify = "strict"
# How long to wait for every phone to register before judging (seconds).
televoc_register_wait = 30
