"""Monitoring a training run while it runs, and the records it leaves for diagnosis.

Lightning callbacks (on by default, `conf/callbacks/default.yaml`): `health.TrainingHealth` (throughput, step times,
data-loader wait, memory, CPU/GPU use, gradient norms every N steps; `health.json` + `health.png` in the run
directory; a stall watchdog, `watchdog`) and `nan_guard.NanGuard` (stops at the first non-finite loss or gradient,
naming where). `profile.ProfileWindow` is the PyTorch profiler over a few steps (`debug=profile`).

Reading the records (`records`, `verdict`) imports no torch: `drivelab runs` and `drivelab doctor` list hundreds
of runs quickly.
"""
