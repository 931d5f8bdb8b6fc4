"""The SSH connection pyinfra opened to the PBX, made to send each packet at once.

paramiko leaves Nagle's algorithm on: each of SSH's small request-and-answer packets (open a
channel, run a command, each step of a file upload) then waits for the server's delayed ACK,
about 40 ms per remote command on a real server (OpenSSH's own client turns it off for its
interactive sessions). A run of 26 remote commands and 7 uploads lost a second to it.
"""

from __future__ import annotations

import socket


def send_at_once(host) -> bool:
    """TCP_NODELAY on `host`'s SSH connection, when it has one (pyinfra's SSH connector keeps
    its paramiko client as `connector.client`); True when it was set. Any other connector, or
    one not connected, is left as it is."""
    client = getattr(getattr(host, "connector", None), "client", None)
    transport = client.get_transport() if client is not None and hasattr(client, "get_transport") else None
    sock = getattr(transport, "sock", None)
    if not isinstance(sock, socket.socket) or sock.type != socket.SOCK_STREAM:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        return False
    return True
