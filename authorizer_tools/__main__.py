"""Entry point: ``python -m authorizer_tools`` (see :mod:`authorizer_tools.cli`)."""

from authorizer_tools.cli import main

raise SystemExit(main())
