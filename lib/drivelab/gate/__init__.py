"""The promotion gate: whether a run's model may advance, decided by explicit checks from the `gate` config group.

Modules: `checks` (one check: value, threshold, pass/fail), `scenes` (behaviour tests on constructed scenes),
`incumbent` (the production model a candidate is compared with), `decide` (every check on the frozen evaluation
data), `report` (the printed table, gate.json and gate.md).
"""
