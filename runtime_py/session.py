"""ModelSession: an onnxruntime session over a bundle's model, with its load-time weights when it has them.

A bundle whose encoder stores 4-bit weights decoded by standard ops (int4-as-int8) ships that decode as a second
model, weights.ort (bundle.json `model.weights`), as a DeBERTa bundle ships its relative-position projections,
computed from weights alone: it reads no input, and its outputs are inputs of the main model
under the same names. It runs once here, at load; its outputs are kept as OrtValues that every call passes beside
the text's tensors, so ORT reads the decoded weights in place (no copy per call).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .arguments import whole_number
from .messages import first_line


def check_threads(threads: object) -> None:
    """ValueError unless `threads` is None or a whole number from 1 to 4 a core (ONNX Runtime makes every thread
    up front: 100,000 hang it)."""
    most = 4 * (os.cpu_count() or 1)
    if threads is None:
        return
    if not whole_number(threads) or not 1 <= threads <= most:
        raise ValueError(f"threads must be a whole number from 1 to {most} ({most // 4} cores), not {threads!r}")


def session_options(threads: int | None = None, profile_prefix: Path | None = None) -> ort.SessionOptions:
    """CPU session options: `threads` intra-op threads (None: ORT's default), ORT's warnings off; with
    `profile_prefix`, ORT's per-node profiler on."""
    check_threads(threads)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profile_prefix)
    return options


class ModelLoadError(Exception):
    """onnxruntime could not load (or, for load-time weights, run) the model file `path`."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"onnxruntime cannot load {path}: {reason}")
        self.path = path


class ModelSession:
    """`run(feed)` → the first output (or `output`), for a model with or without load-time weights. A file
    onnxruntime refuses raises ModelLoadError naming that file (the model or its weights)."""

    def __init__(self, model: Path, weights: Path | None = None, options: ort.SessionOptions | None = None):
        options = options or session_options()
        try:  # onnxruntime raises its own exception types for unreadable models
            self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as err:
            raise ModelLoadError(model, first_line(err)) from None
        self.weights: dict[str, ort.OrtValue] = {}
        if weights is not None:
            try:
                decode = ort.InferenceSession(str(weights), session_options(), providers=["CPUExecutionProvider"])
                names = [o.name for o in decode.get_outputs()]
                self.weights = dict(zip(names, decode.run_with_ort_values(names, {}), strict=True))
            except Exception as err:
                raise ModelLoadError(weights, first_line(err)) from None
        # what a caller feeds: every input but the load-time weights, which run() adds to each call
        self.input_names = [i.name for i in self.session.get_inputs() if i.name not in self.weights]
        self.first_output = self.session.get_outputs()[0].name

    def get_outputs(self) -> list[ort.NodeArg]:
        return self.session.get_outputs()

    def run(self, feed: dict[str, np.ndarray], output: str | None = None) -> np.ndarray:
        """One call on `feed` (names the model does not take are left out)."""
        feed = {name: value for name, value in feed.items() if name in self.input_names}
        name = output or self.first_output
        if not self.weights:
            return self.session.run([name], feed)[0]
        # OrtValues over the arrays' memory (each keeps its array alive), beside the decoded weights' (nothing
        # copied); nothing shared is rebound, so threads may call one session at once
        values = {key: ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(value)) for key, value in feed.items()}
        return self.session.run_with_ort_values([name], {**self.weights, **values})[0].numpy()
