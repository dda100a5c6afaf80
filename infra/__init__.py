"""Infrastructure as code and the deploy script. Never shipped to Lambda."""
