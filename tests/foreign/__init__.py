"""Servers of the APIs written from their specs alone, without genmock's code: what `genmock check` must judge as
it judges genmock's own mock (tests/test_check_foreign.py)."""
