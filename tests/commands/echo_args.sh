#!/bin/sh
# Prints each argument on a line of its own.
printf '%s\n' "$@"
