"""``python -m sv_otel.cli``: the same as the ``sv-otel`` command."""

import sys

from sv_otel.cli.main import main

sys.exit(main())
