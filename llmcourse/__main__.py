"""`python -m llmcourse` runs the command line (see llmcourse.cli)."""

import sys

from llmcourse.cli import main

sys.exit(main())
