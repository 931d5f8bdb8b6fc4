"""What the crew's board costs the PBX per browser, at a size: `python -m lab.bench.board 2000 10000`.

For each number of phones: a read of Asterisk (simulated: every hundredth phone missing, every
fiftieth not answering, 40 locations) made into the board's view, then the pages a browser
asks for through Flask's test client (the overview, every phone, one location; each twice:
the second takes the lists rendered for that read), with their sizes. Asterisk's own time to
answer the read is not in it (docs/costs.md: the verification's read, the same commands).
"""

from __future__ import annotations

import argparse
import time

from roles.selfservice.files import board, page
from roles.shared.pbxcli import Contact, PbxState


def measure(n: int) -> list[str]:
    phones: list[dict] = [
        {
            "name": f"p{i}",
            "number": str(10000 + i),
            "display": f"Phone {i}",
            "location": f"Hall {i % 40}",
            "provisioned": i % 2 == 0,
            "mac": f"{i:012X}",
        }
        for i in range(n)
    ]
    config = {"event": "bench", "phones": phones, "hash": "", "trunk": None, "peers": [], "claimable": None}
    contacts = tuple(
        Contact(
            f"p{i}", f"sip:p{i}@10.23.{i // 250}.{i % 250}:5060", "Avail" if i % 50 else "Unavail", 0.4, "a", "snom"
        )
        for i in range(n)
        if i % 100
    )
    state = PbxState(running=True, version="22", aors=frozenset(p["name"] for p in phones), contacts=contacts)

    class Simulated(board.Live):
        def read_state(self):
            return state, None

    live = Simulated(config, clock=lambda: 1000.0)
    started = time.perf_counter()
    live.current()
    lines = [f"{n} phones: a read made into the board's view: {(time.perf_counter() - started) * 1000:.0f} ms"]
    app = page.board_app()
    app.config["WTF_CSRF_ENABLED"] = False
    limiter = page.Limiter({"crew_logins": board.LOGIN_LIMIT})
    app.register_blueprint(board.blueprint(config, "asterisk", lambda line: None, limiter, page.source_of, live))
    client = app.test_client()
    with client.session_transaction() as session:
        session["crew"] = time.time()
    for url in ("/board", "/board?all=1", "/board?location=Hall%203"):
        times = []
        for _ in range(2):
            started = time.perf_counter()
            answer = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.status_code
        lines.append(f"  {url}: {times[0]:.0f} ms, then {times[1]:.0f} ms; {len(answer.data) / 1000:.0f} kB")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.bench.board", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("phones", type=int, nargs="*", default=[2000, 10000])
    for n in parser.parse_args(argv).phones:
        print("\n".join(measure(n)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
