"""drivelab: experiment workbench for highway trajectory prediction."""

__version__ = "0.1.0"
