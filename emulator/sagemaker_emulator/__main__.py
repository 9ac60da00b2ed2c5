import sys

from sagemaker_emulator.cli import main

sys.exit(main())
