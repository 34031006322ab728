"""What a model, a loss and a metric receive: a batch of windows, one tensor per window array (`history`, `future`,
`neighbours`, `neighbour_mask`, `lane`, `lane_change`, `intention`, ... as `drivelab.data.windows.extract` makes
them), the first dimension being the window."""

from __future__ import annotations

from typing import Dict

import torch

Batch = Dict[str, torch.Tensor]
