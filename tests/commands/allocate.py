"""Allocates the number of bytes given (and touches them), then says so."""

import sys

block = bytearray(int(sys.argv[1]))
print(f"allocated {len(block)} bytes")
