"""dip-lake: the data lake and batch jobs of a city medical-insurance bureau."""

__version__ = "0.1.0"
