"""Operators (super_admin) read the queue's health and the dead letters."""
