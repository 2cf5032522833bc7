"""``python -m sqsocket.pharo FILE...``: check Pharo sources (see :mod:`.check`)."""

from __future__ import annotations

import sys

from sqsocket.pharo.check import main

sys.exit(main())
