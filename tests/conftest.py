"""Fixtures shared by every test: the local test platform's pytest plugin."""

pytest_plugins = ["sagemaker_operator.testing.pytest_plugin"]
