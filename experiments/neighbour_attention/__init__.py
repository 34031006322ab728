"""Idea: attend to neighbours instead of max-pooling them."""
