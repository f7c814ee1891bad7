"""`python -m rnnkit ...` runs the rnnkit command line."""

import sys

from .cli import main

sys.exit(main())
