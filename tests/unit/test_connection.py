"""The SSH connection sends each packet at once (TCP_NODELAY); any other connector is left."""

import socket
from types import SimpleNamespace

from roles.shared.connection import send_at_once


def test_the_ssh_connection_of_a_host_sends_each_packet_at_once():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        transport = SimpleNamespace(sock=sock)
        host = SimpleNamespace(connector=SimpleNamespace(client=SimpleNamespace(get_transport=lambda: transport)))
        assert send_at_once(host)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_a_host_without_an_ssh_connection_is_left_as_it_is():
    assert not send_at_once(SimpleNamespace(connector=SimpleNamespace()))  # @local, @docker
    assert not send_at_once(SimpleNamespace(connector=SimpleNamespace(client=None)))  # not connected
    assert not send_at_once(SimpleNamespace())
