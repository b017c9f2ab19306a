"""Reusable console widgets (they take snapshots and rows, never sessions)."""
