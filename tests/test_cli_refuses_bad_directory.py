"""A bad event directory is refused by the real pyinfra CLI before any host is touched.

The inventory points at a TCP listener owned by the test: if pyinfra connected, the listener
would see it. No lab needed.
"""

import socket
import threading

from tests.lab.deploys import EXAMPLE_EVENT, run_pyinfra, write_inventory


def _listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    seen = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            seen.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return server, seen, stop, thread


def test_bad_directory_is_refused_before_connecting(tmp_path):
    server, seen, stop, thread = _listener()
    try:
        event = tmp_path / "event"
        event.mkdir()
        (event / "event.yml").write_text((EXAMPLE_EVENT / "event.yml").read_text())
        (event / "phones.yml").write_text(
            "phones:\n"
            "  - {name: saal1, extension: 1001, pasword: averylongpassword1}\n"
            "  - {name: saal2, extension: 1001, password: averylongpassword2}\n"
        )
        inventory = write_inventory(
            tmp_path / "inventory.py",
            {"ssh_hostname": "127.0.0.1", "ssh_port": server.getsockname()[1], "ssh_user": "root"},
        )
        secret = tmp_path / "event.secret"
        secret.write_text("x" * 48)
        run = run_pyinfra(inventory, "deploy.py", event, secret, timeout=60)
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()
    assert run.returncode != 0
    assert "phones.yml: phones[0] (saal1): unknown key 'pasword': did you mean 'password'?" in run.output
    assert "phones[1] (saal2): extension '1001' is already used by saal1" in run.output
    assert "nothing was deployed" in run.output
    assert seen == [], "pyinfra connected to the host although the directory was refused"
