"""Names that televoc's config files and its code must spell alike, defined once.

Templates get them as variables; code that reads Asterisk's state imports them. No imports
here: every role (the event model included) may use this module.
"""

# pjsip.conf: the SIP transport, and the templates every phone's sections inherit from.
TRANSPORT = "transport-udp"
PHONE_TEMPLATE = "televoc-phone"
AOR_TEMPLATE = "televoc-aor"
# Where NixOS's services.asterisk puts Asterisk's config files (confFiles) on the host.
ASTERISK_ETC = "/etc/asterisk"
# The files PJSIP reads its big object types from (sorcery.conf; the rest is in pjsip.conf).
# Asterisk applies sorcery.conf when it starts only: `config list` shows whether the running
# one reads these (roles/asterisk: a reload cannot move it to them, a restart does).
PJSIP_TYPE_FILES = {"endpoint": "pjsip_endpoints.conf", "aor": "pjsip_aors.conf", "auth": "pjsip_auths.conf"}
# The aor whose name carries the config generation (`pjsip show aors` shows what is live).
GENERATION_AOR_PREFIX = "televoc-generation-"
# extensions.conf: the phones' context, and the global that carries the dialplan generation.
PHONE_CONTEXT = "from-internal"
# Every number (phone or group) is an extension here; from-internal notes the caller, then
# jumps here. Dial's b() runs PREDIAL_CONTEXT on each callee leg (its Alert-Info class). The
# context holds no extension itself: it includes one context per last digit of the numbers
# (NUMBERS_CONTEXT-0 ... -9), then the test numbers, then the other venues' prefixes.
NUMBERS_CONTEXT = "televoc-numbers"
TEST_NUMBERS_CONTEXT = "televoc-test-numbers"
ANNOUNCEMENTS_CONTEXT = "televoc-announcements"  # the announcements' numbers (event.yml)
VENUE_NUMBERS_CONTEXT = "televoc-venue-numbers"
PREDIAL_CONTEXT = "televoc-predial"
LOUD_CONTEXT_PREFIX = "televoc-loud-"  # + a phone's extension: the callers that ring it loud
# Alert-Info classes (info=...) and the URL the header carries (a phone never fetches it:
# alert_info_playback is off in the settings televoc provisions).
ALERT_DIRECT = "televoc-direct"
ALERT_GROUP = "televoc-group"
ALERT_LOUD = "televoc-loud"
ALERT_URL = "http://127.0.0.1/"
# The upstream trunk: its registration, auth, aor, endpoint and identify share this name.
# Calls from it start in TRUNK_CONTEXT; DIAL_OUT_CONTEXT sends an outside number out (at a
# venue without the trunk: to the trunk's venue), for the callers DIAL_OUT_CALLERS lists
# (extensions).
TRUNK = "televoc-trunk"
TRUNK_CONTEXT = "televoc-from-trunk"
DIAL_OUT_CONTEXT = "televoc-dial-out"
DIAL_OUT_CALLERS = "televoc-may-dial-out"
FORWARD_OUT_CONTEXT = "televoc-forward-out"  # a forward to an outside number
# Several venues: another venue's PBX is endpoint, auth, aor and identify VENUE_PREFIX + its
# name; calls from it start in VENUE_CONTEXT. PEER_USER: the user both ends authenticate as.
VENUE_PREFIX = "televoc-venue-"
VENUE_CONTEXT = "televoc-from-venue"
TO_VENUE_CONTEXT = "televoc-to-venue"  # Dial's b() on a call to a peer
FROM_TRUNK_HEADER = "X-Televoc-From-Trunk"  # between peers: the call came in over the trunk
PEER_USER = "televoc-peer"
# Self-service: a phone with a temporary number starts its calls in TEMPORARY_CONTEXT (only
# the numbers it may call); the claim code and a token go to CLAIM_CONTEXT.
TEMPORARY_CONTEXT = "televoc-temporary"
CLAIM_CONTEXT = "televoc-claim"
# Claimed numbers: their routes (one pattern per block of the claimable range), and where
# Asterisk reads them (roles/selfservice: the database; PJSIP realtime through sorcery).
CLAIMED_CONTEXT = "televoc-claimed"
SELFSERVICE_DB = "/var/lib/televoc-selfservice/claims.sqlite3"
# res_config_sqlite3.conf includes it; the database's command writes it when it makes the
# database (a changed include makes Asterisk's reload of the driver open the new file)
SELFSERVICE_DB_MADE = "/var/lib/televoc-selfservice/made.conf"
SELFSERVICE_DB_NAME = "televoc"  # the database's section in res_config_sqlite3.conf
REALTIME_FAMILIES = ("ps_endpoints", "ps_auths", "ps_aors")  # endpoint, auth, aor: views of the claims
SELFSERVICE_TOOL = "/etc/televoc/bin/televoc-claims"  # the database's command on the PBX
# The claim by dialling: the dialplan's AGI (claimsdb.py, run by Asterisk as the asterisk user)
SELFSERVICE_AGI = "/etc/televoc/bin/televoc-claim-agi"
# The provisioning server's settings file for a phone with a temporary or claimed number (a
# template beside the phones' files: provisiond.py fills in the account from the database)
TEMPORARY_TEMPLATE = "selfservice-phone.xml"
SELFSERVICE_SCRIPT = "claimsdb.py"  # the database's code, shipped next to the NixOS module
# services.yml: Page()'s and an intercom's Dial() b() ask the callee to answer at once, in
# the two ways desk phones understand (docs/services.md, 'How a phone answers by itself'):
# Alert-Info <AUTOANSWER_URL>;info=ALERT_AUTOANSWER;delay=0 (snom, Yealink, Mitel/Aastra,
# Gigaset; Poly matches the URL, which no other call's Alert-Info has) and Call-Info
# <AUTOANSWER_CALL_INFO_URI>;answer-after=0 (Grandstream, Cisco SPA, Gigaset). A paging group
# with callers lets only the extensions of PAGE_CALLERS_PREFIX + its number page; conference
# rooms use the ConfBridge profiles below.
AUTOANSWER_CONTEXT = "televoc-autoanswer"
ALERT_AUTOANSWER = "alert-autoanswer"
AUTOANSWER_URL = ALERT_URL + "autoanswer"  # never fetched, like ALERT_URL
AUTOANSWER_CALL_INFO_URI = "sip:127.0.0.1"  # Call-Info needs a URI; no phone uses it
PAGE_CALLERS_PREFIX = "televoc-may-page-"
ROOM_BRIDGE_PROFILE = "televoc-room"
ROOM_USER_PROFILE = "televoc-participant"
# A room with a PIN: its own user profile, ROOM_PIN_PROFILE_PREFIX + the room's name, with
# `pin=`, in the PINs file outside the Nix store (confbridge.conf includes it).
ROOM_PIN_PROFILE_PREFIX = "televoc-pin-"
# The call log (event.yml call_log:): Asterisk's cdr_sqlite3_custom writes its [master]
# section to master.db in astlogdir (NixOS: /var/log/asterisk), a table of one row per leg.
CALL_LOG_DB = "/var/log/asterisk/master.db"
CALL_LOG_TABLE = "calls"
CALL_LOG_CONTEXT = "televoc-call-log"  # the caller's hangup handler: the row's hangup cause
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
