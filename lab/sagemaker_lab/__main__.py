import sys

from sagemaker_lab.cli import main

sys.exit(main())
