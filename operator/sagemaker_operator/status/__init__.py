"""What SageMaker reports becomes the resource's status, and the status becomes conditions."""
