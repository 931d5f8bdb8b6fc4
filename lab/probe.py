"""Does the PBX answer a UDP datagram from this address? Run in the phones' namespace:

    python -m lab.probe SOURCE_IP PBX_IP PORT [--sip]

sends one datagram from SOURCE_IP (a SIP OPTIONS with --sip, else 8 zero bytes) and prints the
first line of the first answer within 2 s, or "silent" (dropped by a firewall, or nobody
listens). A firewall test measures from outside with it: who may reach SIP and RTP.
"""

from __future__ import annotations

import argparse
import secrets
import socket


def options(source: str, pbx: str, port: int) -> bytes:
    branch, tag, call = secrets.token_hex(6), secrets.token_hex(4), secrets.token_hex(8)
    return (
        f"OPTIONS sip:{pbx}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {source}:{port};branch=z9hG4bK{branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:probe@{source}>;tag={tag}\r\n"
        f"To: <sip:{pbx}>\r\n"
        f"Call-ID: {call}@{source}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.probe")
    parser.add_argument("source")
    parser.add_argument("pbx")
    parser.add_argument("port", type=int)
    parser.add_argument("--sip", action="store_true", help="send a SIP OPTIONS")
    args = parser.parse_args()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((args.source, 0))
        s.settimeout(2.0)
        s.connect((args.pbx, args.port))  # a connected socket hears of ICMP port unreachable
        s.send(options(args.source, args.pbx, args.port) if args.sip else b"\0" * 8)
        try:
            data = s.recv(65535)
        except TimeoutError:
            print("silent")
            return 0
        except ConnectionRefusedError:  # ICMP port unreachable: reached, nobody listens
            print("refused")
            return 0
    print(data.decode(errors="replace").splitlines()[0] if data else "empty")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
