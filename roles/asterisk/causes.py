"""The hangup causes the dialplan ends a call with, and the end of a number's route: shared by
the dialplan's renderers (render.py, callfeatures.py), which import it and not each other."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Causes:
    """The hangup causes the dialplan ends a call with (Asterisk's include/asterisk/causes.h),
    each for the final response the caller gets: chan_pjsip turns a cause into it
    (hangup_cause2sip() in channels/chan_pjsip.c, Asterisk 22; a cause it does not list
    becomes 603 Decline, which is why no call may end with a bare Hangup() after a failed
    Dial(): nobody answering leaves the channel with cause 16, "normal clearing", hence 603).
    docs/routing.md has the table of what a caller hears."""

    unallocated: int = 1  # 404 Not Found: no such number
    busy: int = 17  # 486 Busy Here
    no_answer: int = 19  # 480 Temporarily Unavailable: nobody answered, or nobody could
    rejected: int = 21  # 403 Forbidden: not allowed (dial-out)
    congestion: int = 34  # 503 Service Unavailable: the trunk or another venue's PBX not reached
    # What Dial() to the trunk or another venue's PBX leaves when the way there failed: no
    # reachable contact (qualify found it down: 3, NO_ROUTE_DESTINATION), no answer to the
    # INVITE within pjsip's Timer B, 32 s (its own 408, or the other side's: 18,
    # NO_USER_RESPONSE), or a temporary failure behind it that chan_pjsip has no response
    # for and would send as 603 (409: 41, NORMAL_TEMPORARY_FAILURE; 504: 102,
    # RECOVERY_ON_TIMER_EXPIRE). The caller hears 503 for each.
    not_reached: tuple[int, ...] = (3, 18, 41, 102)


CAUSES = Causes()
# The end of a number's lines when no forward took the call: 486 if the phone (every phone of
# the group) was busy, else 480 (nobody answered, the phone is not registered, every member is
# paused or unreachable).
ROUTE_END = (
    f' same => n,Hangup(${{IF($["${{DIALSTATUS}}" = "BUSY"]?{CAUSES.busy}:{CAUSES.no_answer})}})'
    "  ; busy: 486, else 480 (nobody answered, or nobody could)\n"
)
