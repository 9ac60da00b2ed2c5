"""The TrainingJob API: the Kubernetes resource's spec and status as typed models."""
