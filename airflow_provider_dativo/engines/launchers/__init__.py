"""Launchers: how a connector process starts (a Docker image, or a local executable)."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_dativo.config.specs import ConnectorRecipe
from airflow_provider_dativo.engines.launchers.base import (
    Arg,
    ConnectorProcess,
    FileArg,
    LateFile,
    Launcher,
    Masker,
    stop_running,
)
from airflow_provider_dativo.errors import EngineError

__all__ = ["Arg", "ConnectorProcess", "FileArg", "LateFile", "Launcher", "Masker",
           "launcher_for", "stop_running"]

LAUNCHERS = ("local", "docker")


def launcher_for(root: Path, recipe: ConnectorRecipe, engine_type: str) -> Launcher:
    """The recipe's ``options.launcher``, else local when it has a command, else docker."""
    from airflow_provider_dativo.engines.connector_venvs import resolve_command

    engine = recipe.engine(engine_type)
    choice = engine.options.get("launcher") or ("local" if engine.command else "docker")
    if choice == "local":
        from airflow_provider_dativo.engines.launchers.local import LocalLauncher

        return LocalLauncher(resolve_command(root, recipe.type, engine), cwd=root,
                             label=recipe.type)
    if choice == "docker":
        from airflow_provider_dativo.engines.launchers.docker import DockerLauncher, DockerSettings

        if not engine.image:
            raise EngineError(f"connector '{recipe.type}' has no image for the docker "
                              f"launcher; set default_engine.image in {recipe.file}")
        return DockerLauncher(engine.image, DockerSettings.from_options(engine.options))
    raise EngineError(f"unknown launcher '{choice}' in {recipe.file}; "
                      f"use one of {', '.join(LAUNCHERS)}")
