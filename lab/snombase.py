"""snombase: a simulated snom M-series DECT base fetching its settings, for lab tests.

    ip netns exec <lab.phones_netns> python -m lab.snombase --server URL --model snomM700 \
        --mac 0004136A0001 --ip 10.23.0.31

What a base does at boot with a setting server URL without file name (snom's auto
provisioning; the shared notes, dect.md 1.1): GET <server>snomM700.htm, then
<server>snomM700-<MAC>.htm, each a <setting-files> list whose <file url="..."/> entries it
fetches in turn (at most MAX_FILES in all, depth MAX_DEPTH), merging each settings file
into what it has (snomsim's parse_settings_xml/merge_settings: an empty value clears). Every
request comes from --ip with the User-Agent a snom base sends (the form the Wazo snom DECT
plugin recognises: `Mozilla/4.0 (compatible; Snom M700 05.20.0001 0004136a0001)`).

Prints one JSON object: {"fetched": [[url, status], ...], "settings": {"NAME.IDX": value}}.
status is the HTTP status, or "error: ..." for no answer. Exit 0 whatever the server said:
the test judges.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

from .snomsim import _SourceHandler, merge_settings, parse_settings_xml

FIRMWARE = "05.20.0001"
TIMEOUT = 5.0  # seconds per GET
MAX_FILES = 8  # files one boot fetches at most
MAX_DEPTH = 3  # <setting-files> lists within lists


def user_agent(model: str, mac: str) -> str:
    """'snomM700', '0004136A0001' -> 'Mozilla/4.0 (compatible; Snom M700 05.20.0001 0004136a0001)'."""
    return f"Mozilla/4.0 (compatible; Snom {model.removeprefix('snom')} {FIRMWARE} {mac.lower()})"


def listed(text: bytes) -> list[str] | None:
    """The URLs of a <setting-files> list; None when `text` is no such list."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    if root.tag != "setting-files":
        return None
    return [f.get("url", "") for f in root.iter("file") if f.get("url")]


def boot(server: str, model: str, mac: str, ip: str) -> dict:
    """What a base of `model` with `mac` at `ip` fetches from `server` (ending in '/')."""
    opener = urllib.request.build_opener(_SourceHandler(ip))
    agent = user_agent(model, mac)
    fetched: list[list] = []
    settings: dict[str, str] = {}

    def fetch(url: str, depth: int) -> None:
        if len(fetched) >= MAX_FILES or depth > MAX_DEPTH:
            return
        request = urllib.request.Request(url, headers={"User-Agent": agent})
        try:
            with opener.open(request, timeout=TIMEOUT) as r:
                status, body = r.status, r.read(8_000_000)
        except urllib.error.HTTPError as e:
            fetched.append([url, e.code])
            return
        except (urllib.error.URLError, OSError) as e:
            fetched.append([url, f"error: {getattr(e, 'reason', e)}"])
            return
        fetched.append([url, status])
        urls = listed(body)
        if urls is not None:
            for inner in urls:
                fetch(inner, depth + 1)
            return
        try:
            merged = merge_settings(settings, parse_settings_xml(body))
            settings.clear()
            settings.update(merged)
        except ET.ParseError as e:
            fetched[-1][1] = f"invalid XML: {e}"

    for name in (f"{model}.htm", f"{model}-{mac.upper()}.htm"):
        fetch(server + name, 0)
    return {"fetched": fetched, "settings": settings}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="the setting server URL, ending in /")
    parser.add_argument("--model", required=True)
    parser.add_argument("--mac", required=True)
    parser.add_argument("--ip", required=True)
    args = parser.parse_args(argv)
    print(json.dumps(boot(args.server, args.model, args.mac, args.ip)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
