import sys

from sagemaker_operator.cli import main

sys.exit(main())
