"""PayU Latam simulator: payments and queries APIs, sandbox rules, signed confirmations."""
