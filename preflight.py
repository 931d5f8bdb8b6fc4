"""Preflight: is this box fit for the event, before buildup day? Reads, changes nothing.

    pyinfra inventory.py preflight.py

One remote command per host: NixOS's release; a flake or configuration.nix, importing
televoc's module or not; the Asterisk the host's own nixpkgs builds and the firewall it runs
(its configuration evaluated by its own Nix, on a copy, televoc's module left out); an
Asterisk set up by hand; televoc's ports held by others; free space; the SSH host key pinned.
Each finding with its fix; exit 0 only when a deploy can succeed.
"""

from pyinfra import host

from roles import preflight
from roles.event import host_directory
from roles.plan import check_given, for_deploy

directory = host_directory(host.data)  # with venues: this host's venue
check_given()  # a misspelt --data name would silently change nothing

preflight.host_fit(for_deploy(directory))
