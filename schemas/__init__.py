"""Wire records (pydantic models + Avro) and the error tree."""
