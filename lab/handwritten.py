"""Hand-written config for the lab's own tests of the NixOS stand-in (not televoc's output):
a tiny HTTP server to reach through the firewall, and a pjsip.conf with one phone."""

# A tiny HTTP server, put next to a module: it answers "<greeting> <client address>".
SERVER_PY = """\
import http.server, os, sys
GREETING = sys.argv[2] if len(sys.argv) > 2 else f"uid={os.getuid()}"
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{GREETING} {self.client_address[0]}\\n".encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
"""


def pjsip_conf(password: str) -> str:
    """One phone, phone1, with `password`, on a UDP transport on 0.0.0.0:5060."""
    return f"""\
[transport-udp]
type=transport
protocol=udp
bind=0.0.0.0:5060

[phone1]
type=endpoint
context=default
disallow=all
allow=ulaw
auth=phone1
aors=phone1

[phone1]
type=auth
auth_type=userpass
username=phone1
password={password}

[phone1]
type=aor
max_contacts=1
remove_existing=yes
"""
