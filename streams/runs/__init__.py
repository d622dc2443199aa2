"""Finite runs over bounded input — embedded files, replay, compare, archive — and the steps they share."""
