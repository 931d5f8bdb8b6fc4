"""What every role may use, and nothing here imports a role: names spelt alike in config and
code, files and settings, the run's marker and its one read of the PBX, Asterisk's CLI (its
pure parsers and the fact that reads it), templates, the clock."""
