"""CDK stacks for the 惠民保 service."""
