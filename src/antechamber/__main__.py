"""`python -m antechamber …` is the `antechamber` command."""

import sys

from antechamber.cli import main

sys.exit(main())
