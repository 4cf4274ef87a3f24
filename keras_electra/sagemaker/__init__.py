"""SageMaker: thin entry point and launcher."""
