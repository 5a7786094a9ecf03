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
           "launcher_for", "launcher_name", "runs_in_container", "stop_running"]

LAUNCHERS = ("local", "docker")


def launcher_name(recipe: ConnectorRecipe, engine_type: str) -> str:
    """The recipe's ``options.launcher``, else local when it has a command, else docker."""
    engine = recipe.engine(engine_type)
    return str(engine.options.get("launcher") or ("local" if engine.command else "docker"))


def runs_in_container(recipe: ConnectorRecipe, engine_type: str) -> bool:
    """Whether the recipe's ``engine_type`` engine starts its connector as a container: an
    engine whose connectors a launcher starts (Airbyte, Singer), on the docker launcher. False
    for an engine this version does not have (that is reported where the engine is chosen)."""
    from airflow_provider_dativo.engines import ENGINES, engine_module

    if engine_type not in ENGINES:
        return False
    return bool(engine_module(engine_type, engine_type).LAUNCHES_CONNECTORS) and \
        launcher_name(recipe, engine_type) == "docker"


def launcher_for(root: Path, recipe: ConnectorRecipe, engine_type: str) -> Launcher:
    """The launcher :func:`launcher_name` names, for the recipe's ``engine_type`` engine."""
    from airflow_provider_dativo.engines.connector_venvs import resolve_command

    engine = recipe.engine(engine_type)
    choice = launcher_name(recipe, engine_type)
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
