"""Supported architectures, keyed by the checkpoint's `model_type`.

Input names come from optimum-onnx's per-architecture ONNX configs (the same configs its exporter uses), so
quirks such as DistilBERT/RoBERTa having no token_type_ids, or DeBERTa-v2 having them only when
type_vocab_size > 0, are decided in one maintained place rather than re-listed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import UserInputError

if TYPE_CHECKING:
    from transformers import PretrainedConfig


@dataclass(frozen=True)
class Architecture:
    model_type: str
    family: str
    # RoBERTa-style position ids start after the padding index (padding_idx + 1 ... padding_idx + length).
    positions_after_padding: bool = False
    # The graph computes tensors from weights alone that are larger than the weights (DeBERTa's relative-position
    # keys and queries: every layer's projections of the shared position table, fp32). The `.ort` conversion would
    # fold them into the file, so they are computed once at load instead (targets/load_time_decode.py).
    computes_at_load: bool = False

    def position_rows(self, hf_config: PretrainedConfig, max_length: int) -> int:
        """Rows of the absolute position table that inputs of up to max_length tokens can reach."""
        return max_length + (hf_config.pad_token_id + 1 if self.positions_after_padding else 0)

    def onnx_input_names(self, hf_config: PretrainedConfig, task: str) -> list[str]:
        import optimum.exporters.onnx.model_configs  # noqa: F401  (registers the ONNX configs)
        from optimum.exporters.tasks import TasksManager

        constructor = TasksManager.get_exporter_config_constructor(
            exporter="onnx", model_type=self.model_type, task=task, library_name="transformers"
        )
        return list(constructor(hf_config, task=task).inputs)


ARCHITECTURES: dict[str, Architecture] = {
    a.model_type: a
    for a in (
        Architecture("bert", "BERT / MiniLM"),
        Architecture("distilbert", "DistilBERT"),
        Architecture("roberta", "RoBERTa", positions_after_padding=True),
        Architecture("xlm-roberta", "XLM-RoBERTa", positions_after_padding=True),
        Architecture("deberta-v2", "DeBERTa-v2/v3", computes_at_load=True),
        Architecture("electra", "ELECTRA"),
    )
}


def get_architecture(model_type: str) -> Architecture:
    if model_type not in ARCHITECTURES:
        raise UserInputError(f"unsupported architecture '{model_type}'; supported: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[model_type]
