"""An LLM answerability judge: does this evidence answer this question? One constrained yes/no judgement.

The extractive generator picks the sentences that answer best; the judge then asks an instruction-tuned
model (the packaged Qwen2.5-Coder-0.5B-Instruct, `generation.gguf_generator`) whether they actually answer
the question. The reply is not sampled: one forward pass over the chat prompt, and the probability of a
"Yes" first token against a "No" one (`YesNoModel.yes_probability`). Below `threshold` the generator
abstains. The threshold is chosen on one SQuAD 2.0 article and reported on the other
(`benchmarks/bench_qa_llm.py`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

SYSTEM = (
    "You check whether a text answers a question. The text must state the answer to exactly what is "
    "asked, about the same person, thing, place and time. Reply with Yes or No only."
)


@runtime_checkable
class YesNoModel(Protocol):
    """A model that rates a yes/no question: P(yes) / (P(yes) + P(no)) of its first reply token."""

    def yes_probability(self, system: str, user: str) -> float:
        """The probability that the reply to `user` (under `system`) starts with Yes rather than No."""
        ...


@runtime_checkable
class AnswerabilityJudge(Protocol):
    """Decides whether a piece of evidence answers a question (used by `ExtractiveGenerator`)."""

    def answers(self, question: str, evidence: str) -> bool:
        """Whether `evidence` answers `question`."""
        ...


def judge_prompt(question: str, evidence: str, max_chars: int = 1200) -> str:
    """The user message of the judgement: the evidence, then the question, then the yes/no ask."""
    text = " ".join(evidence.split())[:max_chars]
    return (
        f"Text: {text}\n\nQuestion: {question.strip()}\n\nDoes the text answer the question? Reply Yes or No."
    )


class LlmJudge:
    """Answerability by a language model's constrained yes/no reply.

    Args:
        model: Rates the prompt (`GgufGenerator` with the packaged Qwen; a fake in unit tests).
        threshold: Least P(yes) for "answers"; chosen on held-out data (see the module docstring).
    """

    name = "llm"

    def __init__(self, model: YesNoModel, threshold: float = 0.3) -> None:
        self.model = model
        self.threshold = threshold

    def probability(self, question: str, evidence: str) -> float:
        """P(yes): how likely the model finds that `evidence` answers `question`, in [0, 1]."""
        if not evidence.strip():
            return 0.0
        return float(self.model.yes_probability(SYSTEM, judge_prompt(question, evidence)))

    def answers(self, question: str, evidence: str) -> bool:
        """Whether P(yes) reaches the threshold."""
        return self.probability(question, evidence) >= self.threshold
