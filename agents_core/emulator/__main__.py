"""`python -m agents_core.emulator [--host H] [--port N] [--latency-ms X] [--run-ms X] ...`."""

import sys

from .cli import main

sys.exit(main())
