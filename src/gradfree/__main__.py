"""``python -m gradfree`` is the ``gradfree`` command."""

import sys

from gradfree.cli import main

sys.exit(main())
