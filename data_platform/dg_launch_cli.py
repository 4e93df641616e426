"""``dg launch`` alone: dg's own ``launch`` command in dg's own command group, without dg's other commands.

``python -P -m data_platform.dg_launch_cli launch --job daily_pipeline ...`` takes the arguments, options,
environment prefix (``DAGSTER_DG_*``) and behaviour of ``dg launch`` (the same click command runs the run in
process); :func:`data_platform.launch.dg_launch` starts it instead of the ``dg`` script. The ``dg`` script
registers every one of its commands before it runs any (scaffold, plus, labs... their imports are about
0.35 CPU s of each launch, docs/benchmarks.md, issue #19), here only ``launch`` is registered. ``dg launch``
itself works as before, for a person and for the tests that run it."""

from __future__ import annotations

from dagster_dg_cli.cli import ENV_PREFIX, create_dg_cli
from dagster_dg_cli.cli.launch import launch_command


def main() -> None:
    """Run dg's command line with ``launch`` as its only command."""
    cli = create_dg_cli()
    cli.add_command(launch_command)  # a registered command: the group never loads the others
    cli(auto_envvar_prefix=ENV_PREFIX)


if __name__ == "__main__":
    main()
