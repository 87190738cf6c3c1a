"""``python -m rnnkit ...`` runs the command line, like the ``rnnkit`` script."""

import sys

from .cli.main import main

sys.exit(main())
