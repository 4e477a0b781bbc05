"""Who is asking, and what they may do: API keys, passwords, principals and permissions."""
