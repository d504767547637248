"""An mmrag generator plugin: answers with a quote of the best evidence, cited. `MMRAG_GENERATOR=quote`."""

from collections.abc import Iterator, Sequence

from pydantic_settings import BaseSettings, SettingsConfigDict

from core.registry import Components, Registry
from core.types import Answer, Citation, Hit


class QuoteConfig(BaseSettings):
    """The plugin's own settings: `MMRAG_QUOTE_MAX_CHARS`."""

    model_config = SettingsConfigDict(env_prefix="MMRAG_QUOTE_")
    max_chars: int = 200


class QuoteGenerator:
    """Implements the `Generator` protocol of core/protocols.py."""

    needs_evidence = True  # it only quotes: always search for it

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars

    def generate(self, query: str, evidence: Sequence[Hit]) -> Answer:
        if not evidence:
            return Answer("I don't know.", abstained=True)
        best = evidence[0].segment
        return Answer(f"{best.text[: self.max_chars]} [1]", citations=(Citation(1, best),))

    def stream(self, query: str, evidence: Sequence[Hit]) -> Iterator[str]:
        yield self.generate(query, evidence).text


def register(registry: Registry) -> None:
    """The entry point: one backend, its config model and its factory."""

    def build(config: QuoteConfig, components: Components) -> QuoteGenerator:
        return QuoteGenerator(config.max_chars)

    registry.add("generator", "quote", QuoteConfig, build)
