"""Lake-wide jobs a DAG runs: table maintenance and the Delta round trip."""
