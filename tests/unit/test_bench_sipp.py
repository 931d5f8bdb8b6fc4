"""The benchmark's SIPp helpers (lab/bench/sipp_phones.py): the injection file it writes and
the totals it reads from SIPp's final screen."""

import pytest

from lab.bench.sipp_phones import screen_totals, users_csv

# SIPp 3.8's final scenario screen after 2000 registrations (stopped with SIGTERM)
SCREEN = """\
------------------------------ Scenario Screen -------- [1-9]: Change Screen --
  Call rate (length)   Port   Total-time  Total-calls  Remote-host
  100.0(0 ms)/1.000s   5070      61.44 s         2000  10.23.0.2:5060(UDP)

  Call limit 2000 hit, 0.4 s period       1 ms scheduler resolution
  2000 calls (limit 2000)                 Peak was 2000 calls, after 20 s

                                 Messages  Retrans   Timeout   Unexpected-Msg
0 :    REGISTER ---------->         2000      3         0
1 :         401 <----------         2000      0         0         0
2 :    REGISTER ---------->         2000      1         0
3 :         200 <----------         1998      0         2         0
4 :       Pause [  1:00:00]         1998                          0
------------------------------ Test Terminated --------------------------------
"""


def test_users_csv_is_sequential_one_row_per_account():
    assert users_csv([("saal1", "pw1"), ("saal2", "pw2")]) == "SEQUENTIAL\nsaal1;pw1\nsaal2;pw2\n"


def test_users_csv_refuses_a_separator_in_a_password():
    with pytest.raises(ValueError, match="saal1"):
        users_csv([("saal1", "a;b")])


def test_screen_totals_add_up_messages_retransmissions_and_timeouts():
    assert screen_totals("Resolving remote host...\n" + SCREEN) == {
        "messages": 7998,
        "retransmissions": 4,
        "timeouts": 2,
    }


def test_screen_totals_without_a_screen_are_empty():
    assert screen_totals("sipp: There was an error") == {}
