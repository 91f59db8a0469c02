"""Tools around the lake that no wing imports: the demo, the bench, cluster and Airflow helpers."""
