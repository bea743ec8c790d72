"""The tiny models' tokenizers are the same in every process, so a tiny model's tokens (and the parities measured
on them) do not move between test runs. Broken (WordPiece or Unigram trained by tokenizers' trainers again, whose
ties fall in hash-map order), the two processes below disagree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOKENIZERS = """
import hashlib, sys
sys.path.insert(0, {tests!r})
from tiny_models import byte_level_bpe, unigram, wordpiece
xlmr = unigram(["<s>", "<pad>", "</s>", "<unk>"], "<s>", "</s>", "<pad>", "<unk>")
for tokenizer in (wordpiece(), byte_level_bpe(), xlmr):
    print(hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest())
"""


def test_tiny_tokenizers_are_the_same_in_every_process():
    script = TOKENIZERS.format(tests=str(Path(__file__).parent))
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]  # fmt: skip
    assert runs[0] == runs[1] and len(runs[0].split()) == 3
