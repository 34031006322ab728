"""The data flow, one package per step; a package imports only from the steps before it.

- `tracks`: recordings -> canonical tracks (reading each source format, then validating and quarantining rows).
- `windows`: canonical tracks -> target-centric windows (a data version on disk) -> training batches.
- `health`: what a data version holds (health report, drift between two versions, finding a version).
"""
