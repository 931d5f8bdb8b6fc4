"""televoc's roles, one package per concern, and the one place that composes them.

    shared/    what every role may use (names, files, settings, the run's marker and its
               one read of the PBX, Asterisk's CLI); imports no role
    event/     the event directory: YAML in, a validated Directory out, routing resolved
    asterisk/  Asterisk's files and passwords; make them live; verify the phones
    snom/      the phones' settings, the provisioning server, resync, adopt, teardown
    nixos/     the NixOS module around what it is given; import check; switch
    plan.py    renders every role's artefacts once and hands the nixos role its parts
    pbx.py     the run's one read of the PBX, of the paths each role names

No role imports another; deploy.py, teardown.py and adopt.py read the plan and call each
role's steps.
"""
