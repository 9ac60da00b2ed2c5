"""The AWS side: SageMaker requests, their validation, and what its errors mean."""
