"""The controller: a TrainingJob resource in, a SageMaker training job out, status back."""
