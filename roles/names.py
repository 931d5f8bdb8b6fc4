"""Names that televoc's config files and its code must spell alike, defined once.

Templates get them as variables; code that reads Asterisk's state imports them. No imports
here: every role (the event model included) may use this module.
"""

# pjsip.conf: the SIP transport, and the templates every phone's sections inherit from.
TRANSPORT = "transport-udp"
PHONE_TEMPLATE = "televoc-phone"
AOR_TEMPLATE = "televoc-aor"
# The aor whose name carries the config generation (`pjsip show aors` shows what is live).
GENERATION_AOR_PREFIX = "televoc-generation-"
# extensions.conf: the phones' context, and the global that carries the dialplan generation.
PHONE_CONTEXT = "from-internal"
DIALPLAN_GLOBAL = "TELEVOC_DIALPLAN"
# pjsip_notify.conf sections: `pjsip send notify <section> endpoint <phone> ...`
NOTIFY_CHECK_SYNC = "televoc-check-sync"
NOTIFY_CHECK_SYNC_REBOOT = "televoc-check-sync-reboot"
# Every object televoc adds to Asterisk's config starts with this; phones may not use it.
RESERVED_PREFIX = "televoc-"
# Section names a phone may not take: pjsip.conf's own objects.
RESERVED_NAMES = (TRANSPORT, "global", "system")
# The provisioning server (roles/snom/files/provisiond.py): its systemd service and user,
# and the URL path under which it serves <MAC>.xml.
PROVISIONING_SERVICE = "televoc-provisioning"
PROVISIONING_USER = "televoc-provisioning"
PROVISIONING_URL_PATH = "/televoc"
# Written by the deploy into the served directory, read by the server: lifts the sweep lock,
# re-arms phones (see provisiond.py).
PROVISIONING_CONTROL = "control.json"
