"""Fraud: the rule base (rules as data files in ``rules/``), features, models, alerts."""
