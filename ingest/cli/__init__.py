"""The ``larza`` command: every subcommand of every process, in one place."""
