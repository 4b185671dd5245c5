"""Durable record of every decision, observation, report and submission (SQLite)."""
