"""``python -m fastprep``: the same command line as the ``fastprep`` script."""
import sys

from .cli import main

sys.exit(main())
