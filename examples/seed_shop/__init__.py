"""The seed report's shop, rebuilt: FastAPI, async SQLAlchemy on Postgres, Wompi, PayU and Efecty, weak or hardened."""
