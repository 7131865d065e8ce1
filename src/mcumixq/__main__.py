"""Allow `python -m mcumixq` (and `torchrun -m mcumixq`)."""

from mcumixq.cli.main import cli

cli()
