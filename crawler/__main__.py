"""``python -m crawler``."""

from .cli import main

raise SystemExit(main())
