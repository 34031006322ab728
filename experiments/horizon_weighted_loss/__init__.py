"""Idea: weight the training loss towards long horizons, where the error (and the headline RMSE@5s) is largest."""
