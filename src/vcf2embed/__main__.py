"""`python -m vcf2embed`: the command line."""

import sys

from .cli import main

sys.exit(main())
