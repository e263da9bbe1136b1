#!/bin/sh
# configure did not find Check: the unit tests cannot be built.
echo "Check (the unit test framework) was not found by configure: install 'check' (Debian: apt-get install check) and re-run configure." >&2
exit 1
