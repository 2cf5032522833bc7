import sys

from sqsocket.cli import main

sys.exit(main())
