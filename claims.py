"""The participants' claims: copy them from the PBX's self-service database as CSV, and say
how many are to be listed in the phone directory. Reads, changes nothing.

    pyinfra inventory.py claims.py -y          # or: ./televoc claims inventory.py

Writes reports/<host>-claims.csv (number, name, in_directory, kind, created, expires; no
secret; `--data selfservice__export_dir=DIR` elsewhere). Then
`python -m roles.event directory --claims reports/<host>-claims.csv` writes the directory
with the claims whose participants chose to be listed (docs/self-service.md).
"""

from pyinfra import host
from pyinfra.operations import python

from roles import pbx, selfservice
from roles.event import host_directory
from roles.plan import check_given, for_deploy
from roles.selfservice import report

directory = host_directory(host.data)  # with venues: this host's venue
check_given()  # a misspelt --data name would silently change nothing

snapshot = pbx.read(for_deploy(directory))  # one remote command: the database's read
selfservice.claims_exported(selfservice.held(snapshot))  # CSV on this machine
python.call(
    name="The claims for the phone directory",
    function=report.printed,
    directory=directory,
    path=selfservice.export_path(),
)
