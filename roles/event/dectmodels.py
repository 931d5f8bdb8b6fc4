"""The DECT base stations televoc knows: what each model can hold, and the ones it refuses.

One row per model, with where its figures come from (the checked facts are in the shared notes,
dect.md). The model (model.py) takes a base's `model` from here, the rules across entries
(dect.py) its line limit and whether it forms a multicell system. A second vendor adds its
rows here and its files in a module of its own (roles/snom/dect.py is snom's); nothing else
in the model changes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BaseKind:
    """What a base station model can do.

    + vendor: who makes it (picks the module that writes its files)
    + lines: the SIP accounts (one per handset) it holds: the highest slot a handset takes
    + multicell: bases of this model can form one system (one primary holds the accounts)
    """

    vendor: str
    lines: int
    multicell: bool


# snom M-series, flat XML (firmware 05.20 and 07.40). Lines and multicell as the maintained
# Wazo snom DECT plugin declares them (plugin-info): M300 20 lines single cell, M700 and M900
# 1000 lines multicell, M400 20 lines multicell at 07.40.
BASE_MODELS: dict[str, BaseKind] = {
    "snomM300": BaseKind("snom", 20, False),
    "snomM400": BaseKind("snom", 20, True),
    "snomM700": BaseKind("snom", 1000, True),
    "snomM900": BaseKind("snom", 1000, True),
}

# Models a crew may have that televoc does not provision, and why (said when one is declared).
REFUSED_MODELS: dict[str, str] = {
    "snomM500": (
        "the snom M500 is a dual-cell base of another firmware family with another file format "
        "(site-wide settings in the primary's file, provisioning.server_address), which televoc "
        "does not write: use an M700 or M900 (M300 or M400 for up to 20 handsets), or set the "
        "M500 up by hand and declare its handsets as phones without base"
    ),
}

MODELS_RULE = "a base's model is one of " + ", ".join(BASE_MODELS)
