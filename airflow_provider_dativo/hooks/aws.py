"""AWS credentials for a job's connection from an Airflow AWS connection (``aws_conn_id``).

The Amazon provider's ``AwsGenericHook`` reads the connection, so every credential source it
supports works: keys in the connection, a profile, an assumed role, the environment or instance
metadata, any secrets backend. What it returns is frozen (a refreshable role session gives one
consistent set) and masked before anything can log it.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dativo import masking
from airflow_provider_dativo.config.aws_refs import AwsCredentials
from airflow_provider_dativo.operators.secrets import use_airflow_masker

INSTALL_HINT = ("aws_conn_id needs the Amazon provider: pip install "
                "'airflow-provider-dativo[aws]' (apache-airflow-providers-amazon)")


def aws_credentials(conn_id: str) -> AwsCredentials:
    """Credentials, region and endpoints of the Airflow AWS connection ``conn_id``."""
    try:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook
    except ImportError:
        raise LookupError(INSTALL_HINT) from None
    hook: AwsGenericHook[Any] = AwsGenericHook(aws_conn_id=conn_id, client_type="s3")
    try:
        config = hook.conn_config
        found = hook.get_session().get_credentials()
        region = hook.region_name or hook.conn_region_name
    except Exception as exc:  # the provider raises its own and botocore's error types
        raise LookupError(
            f"Airflow AWS connection '{conn_id}' gives no credentials ({type(exc).__name__}: "
            f"{exc}); check the connection (airflow connections get {conn_id}) or create it "
            f"(AIRFLOW_CONN_{conn_id.upper()})") from None
    if found is None:
        raise LookupError(
            f"Airflow AWS connection '{conn_id}' gives no credentials and neither does the "
            "environment; give the connection an access key (login/password), a role_arn or "
            f"a profile, or create it (AIRFLOW_CONN_{conn_id.upper()})")
    frozen = found.get_frozen_credentials()
    creds = AwsCredentials(
        access_key_id=frozen.access_key,
        secret_access_key=frozen.secret_key,
        session_token=frozen.token,
        region=region,
        s3_endpoint=config.get_service_endpoint_url("s3"),
        glue_endpoint=config.get_service_endpoint_url("glue"),
    )
    use_airflow_masker()
    masking.register(creds.secrets())
    return creds
