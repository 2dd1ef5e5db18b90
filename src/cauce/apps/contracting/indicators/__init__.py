"""The original's ten indicators (fixed and as published), the red flags it lacked, and the
risk scores built from both; every transform an Ibis expression, so DuckDB and Spark run the
same definition."""
