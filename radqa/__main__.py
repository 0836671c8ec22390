import sys

from radqa.cli import main

sys.exit(main())
