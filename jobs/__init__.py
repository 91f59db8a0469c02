"""dip-lake: the data lake and batch jobs of a city medical-insurance bureau."""

__version__ = "0.1.0"


class Refused(Exception):
    """A job declined to run on what it found (a table missing, a clearing not allowed).

    The message says why and what to run first. The jobs' own refusals derive from
    it, so the command line reports any of them the same way without importing
    the job (jobs/cli.py); a DAG task fails with the message.
    """
