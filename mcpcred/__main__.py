"""``python -m mcpcred``: the same entry point as the console script."""

from mcpcred._entry import main

raise SystemExit(main())
