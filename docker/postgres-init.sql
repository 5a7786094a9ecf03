-- The Iceberg SQL catalog of the `lake` connection lives in its own database.
CREATE DATABASE iceberg OWNER airflow;
