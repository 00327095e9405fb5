"""Staff: accounts, API tokens, signing in, and the audit log of what they did."""
