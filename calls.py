"""The call log: copy it from the PBX, write it as CSV, print the crew's statistics. Reads,
changes nothing.

    pyinfra inventory.py calls.py -y          # or: ./televoc calls inventory.py

Writes reports/<host>-calls.csv (and the SQLite copy beside it; `--data
calllog__export_dir=DIR` elsewhere), then prints calls per hour and per location and the
numbers never reached (roles/calllog/stats.py). The event must have `call_log: {enabled: true}`.
"""

from pyinfra import host
from pyinfra.operations import python

from roles import calllog, pbx
from roles.calllog import report
from roles.event import host_directory
from roles.plan import check_given, for_deploy

directory = host_directory(host.data)  # with venues: this host's venue
check_given()  # a misspelt --data name would silently change nothing

snapshot = pbx.read(for_deploy(directory))  # one remote command: is there a call log
path = calllog.call_log_exported(snapshot)
python.call(name="The call log's statistics", function=report.printed, directory=directory, path=path)
