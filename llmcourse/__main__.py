"""`python -m llmcourse` runs the command line (see llmcourse.deploy.cli)."""

import sys

from llmcourse.deploy.cli import main

sys.exit(main())
