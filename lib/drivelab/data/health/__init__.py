"""What a data version holds: per-window traffic `features`, the health `report` and its `plots`, the `drift`
between two versions, and finding a version (`versions`) in a folder or a DVC revision.
"""
