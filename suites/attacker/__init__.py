"""The attacker suite: holes nobody thought of yet, each a class of attack against the live core."""
