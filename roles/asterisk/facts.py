"""Facts that read a running Asterisk through its CLI, in one remote command each."""

from __future__ import annotations

from pyinfra.api import FactBase
from pyinfra.api.exceptions import FactProcessError

from . import cli
from .defaults import asterisk__cli


class AsteriskState(FactBase):
    """
    What Asterisk serves now: version, aors with contacts, contacts with status and RTT, and
    dialplan globals. One remote command, whatever the number of phones.

    + cli: the Asterisk CLI command (with -C)

    .. code:: python

        state = host.get_fact(AsteriskState)
        state.running, state.generation, state.contacts_of("saal1")
    """

    @staticmethod
    def default():
        return None

    def command(self, cli_command: str = asterisk__cli) -> str:
        # Each answer is preceded by a marker line; stderr too ("Unable to connect ...").
        parts = [
            f"echo '{cli.SECTION_MARK}{c}'; {cli_command} -rx '{c}' 2>&1"
            for c in cli.STATE_COMMANDS
        ]
        return "; ".join(parts) + "; true"

    def process(self, output):
        try:
            return cli.parse_state(output)
        except ValueError as e:
            raise FactProcessError(f"unexpected Asterisk CLI output: {e}") from e
