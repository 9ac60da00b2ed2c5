"""Run Amazon SageMaker training jobs from Kubernetes TrainingJob resources."""

__version__ = "0.2.0"
