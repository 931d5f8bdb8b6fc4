"""Is a password that the event crew wrote hard enough to guess? Asked of zxcvbn (Dropbox's
strength estimator: dictionaries of common passwords, words and names, keyboard patterns,
dates, repetitions, l33t substitutions), and answered in words.

The threshold, MIN_GUESSES = 10^12 guesses: a SIP password is attacked online by REGISTER
attempts against Asterisk (no rate limit by default), a few thousand a second at best, where
10^12 guesses take about ten years; and offline, from a digest captured in the phone network,
where no password a person picks and types stays safe for long (an MD5 digest falls at billions
of guesses a second on one GPU), so the message points to the passwords televoc derives from the
event secret (24 random base32 characters, 120 bits). zxcvbn's own score 4 starts at 10^10
guesses, which still lets `correcthorsebattery` (10^10.0) and `Summer2026!Summer` (10^10.1)
through: hence a threshold in guesses, not the score.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

MIN_GUESSES_LOG10 = 12
# zxcvbn refuses longer input (its matching grows fast with the length); a password is judged
# by its first 72 characters, which never makes it look stronger than it is.
_ZXCVBN_MAX_LENGTH = 72

# How televoc asks zxcvbn and reads its answer; raise it when that changes (not the messages of
# a weak password: only what makes a password pass), so that every password is judged again.
JUDGE_VERSION = 1


def rules() -> str:
    """Everything that decides whether a password passes, in one line: the estimator and its
    version, the threshold, how much of a password it reads, televoc's way of asking. A
    password judged strong under other rules is judged again (strength_record.py)."""
    return (
        f"zxcvbn {metadata.version('zxcvbn')}; at least 10^{MIN_GUESSES_LOG10} guesses; "
        f"first {_ZXCVBN_MAX_LENGTH} characters; judge {JUDGE_VERSION}"
    )


_DICTIONARIES = {
    "passwords": "a common password",
    "english_wikipedia": "a common word",
    "us_tv_and_film": "a common word",
    "surnames": "a common surname",
    "male_names": "a common first name",
    "female_names": "a common first name",
    "user_inputs": "the event's or the phone's own name, number or display name",
}


def _part(match: dict) -> str | None:
    """One predictable part of the password, in words (None for a part guessed by brute force)."""
    token = match["token"]
    pattern = match["pattern"]
    if pattern == "dictionary":
        what = _DICTIONARIES.get(str(match.get("dictionary_name")), "a common word")
        if match.get("reversed"):
            what += ", reversed"
        if match.get("l33t"):
            what += ", with letters swapped for look-alike digits or symbols"
        return f"'{token}' ({what})"
    if pattern == "spatial":
        return f"'{token}' (a row of neighbouring keys)"
    if pattern == "repeat":
        return f"'{token}' (a repetition of '{match.get('base_token', token)}')"
    if pattern == "sequence":
        return f"'{token}' (a sequence like abc or 123)"
    if pattern == "regex":
        return f"'{token}' (a recent year)"
    if pattern == "date":
        return f"'{token}' (a date)"
    return None


def _words(log10: float) -> str:
    if log10 < 3:
        return "fewer than a thousand"
    if log10 < 6:
        return f"about {10 ** int(log10):,}".replace(",", " ")
    if log10 < 9:
        return f"about {10 ** (int(log10) - 6):g} million".replace("1 million", "a million")
    return f"about 10^{int(log10)}"


def weakness(password: str, user_inputs: Iterable[str]) -> str | None:
    """None if zxcvbn estimates at least 10^MIN_GUESSES_LOG10 guesses for `password`; else why
    not, in words (what a guesser would try, and zxcvbn's warning)."""
    from zxcvbn import zxcvbn  # imported when a password is given (its dictionaries take a while)

    result = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=[str(u) for u in user_inputs if u])
    log10 = result["guesses_log10"]
    if log10 >= MIN_GUESSES_LOG10:
        return None
    parts = [p for p in (_part(m) for m in result["sequence"]) if p]
    reason = f"a guesser that knows common passwords finds it within {_words(log10)} guesses"
    if parts:
        reason += f": it is made of {', '.join(parts)}"
    warning = (result.get("feedback") or {}).get("warning")
    if warning:
        reason += f" ({warning.rstrip('.')})"
    return f"{reason}, and televoc asks for at least 10^{MIN_GUESSES_LOG10}"
