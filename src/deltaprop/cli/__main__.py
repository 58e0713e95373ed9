"""``python -m deltaprop.cli``: the same as the ``deltaprop`` command."""

import sys

from deltaprop.cli.main import main

sys.exit(main())
