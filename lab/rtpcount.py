"""Count RTP datagrams: run by sip.call() inside the lab's network namespace.

    python3 rtpcount.py MAX_SECONDS

Binds a free UDP port on 127.0.0.1, prints it on the first line, counts datagrams until
stdin closes (or MAX_SECONDS pass), then prints the count.
"""

import os
import select
import socket
import sys
import time


def main() -> None:
    limit = float(sys.argv[1])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1], flush=True)
    count = 0
    deadline = time.monotonic() + limit
    while (left := deadline - time.monotonic()) > 0:
        watched: list[socket.socket | int] = [s, 0]
        ready, _, _ = select.select(watched, [], [], left)
        if s in ready:
            s.recv(4096)
            count += 1
        if 0 in ready and not os.read(0, 4096):
            break
    print(count, flush=True)


if __name__ == "__main__":
    main()
