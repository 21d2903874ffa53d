"""Aquaman (thesis Chapter 2): neural-UCB model selection from delayed user feedback."""
