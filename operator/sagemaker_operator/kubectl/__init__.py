"""`kubectl sagemaker`: a kubectl plugin to read a TrainingJob's logs and summary."""
