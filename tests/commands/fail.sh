#!/bin/sh
# Writes a line to stdout and to stderr, then exits with the status given.
echo "some output"
echo "something went wrong" >&2
exit "$1"
