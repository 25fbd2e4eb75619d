#!/usr/bin/env python3
"""Entry point: python3 tools/verify-py/verify.py trail|bundle … (see README.md)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from audit_verify.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
