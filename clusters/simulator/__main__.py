"""``python -m clusters.simulator``: see ``clusters.simulator.cli``."""

import sys

from clusters.simulator.cli import main

sys.exit(main())
