"""A bad event directory is refused by the real pyinfra CLI before any host is touched.

The inventory points at a TCP listener owned by the test: if pyinfra connected, the listener
would see it. No lab needed.
"""

import socket
import threading

from lab.deploys import EXAMPLE_EVENT, run_pyinfra, write_inventory


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
            except TimeoutError:
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
            "  - {name: saal1, extension: 1001, pasword: Tk7-wQ3v-Lm9z-Rb2x}\n"
            "  - {name: saal2, extension: 1001, password: correcthorsebattery}\n"
        )
        inventory = write_inventory(
            tmp_path / "inventory.py",
            {"ssh_hostname": "127.0.0.1", "ssh_port": server.getsockname()[1], "ssh_user": "root"},
        )
        secret = tmp_path / "event.secret"
        secret.write_text("x" * 48)
        secret.chmod(0o600)
        run = run_pyinfra(inventory, "deploy.py", event, secret, timeout=60)
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()
    assert run.returncode != 0
    phones = event / "phones.yml"
    assert f"the event directory {event} has 3 problems; nothing was deployed:" in run.output
    assert f"  - {phones}:2: phone 1 (saal1): pasword: unknown key: did you mean 'password'?\n" in run.output
    assert (
        f"  - {phones}:3: phone 2 (saal2): extension: '1001' is already used by phone 1 (saal1), line 2: "
        "give each phone its own extension\n"
    ) in run.output
    assert f"  - {phones}:3: phone 2 (saal2): password: is too easy to guess: " in run.output
    assert seen == [], "pyinfra connected to the host although the directory was refused"


def test_debug_inventory_shows_the_event_directory_path_and_no_password(tmp_path, monkeypatch):
    import os
    import subprocess

    from lab.deploys import PYINFRA, REPO
    from roles.event import load_directory

    secret = tmp_path / "event.secret"
    secret.write_text("y" * 48)
    secret.chmod(0o600)
    monkeypatch.setenv("TELEVOC_SECRET_FILE", str(secret))
    monkeypatch.setenv("TELEVOC_EVENT_DIR", str(EXAMPLE_EVENT))
    run = subprocess.run(
        [PYINFRA, "inventory.py", "debug-inventory"],
        cwd=REPO,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert f'"televoc_event_dir": "{EXAMPLE_EVENT}"' in output
    passwords = [a.password for a in load_directory(EXAMPLE_EVENT).accounts]
    assert passwords and not any(p in output for p in passwords)
