"""The emulator's own tests use its pytest plugin, as any project's tests would."""

pytest_plugins = ["sagemaker_emulator.pytest_plugin"]
