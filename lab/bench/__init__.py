"""The benchmark (`python -m lab.bench`, __main__.py) and its helpers: registered phones in the
lab, Asterisk's CLI text for N phones, the client-side timings, the counting pyinfra CLI. Not
tests."""
