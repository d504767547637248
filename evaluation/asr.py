"""Word error rate of an ASR over a JSONL of {"audio": path, "text": reference} lines.

Both sides are normalised the same way before counting (lower case, no punctuation, hyphens split, a few
spoken forms of abbreviations: "Mr." is "mister"), so WER measures words, not typography.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import InvalidRequestError
from indexing.media.av_decoder import AvDecoder

if TYPE_CHECKING:
    from core.protocols import Asr

log = logging.getLogger(__name__)

_SPOKEN = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint", "&": "and", "%": "percent"}
_PUNCT = re.compile(r"[^\w\s']")


def normalize(text: str) -> list[str]:
    """Lower-case words without punctuation, abbreviations spelled out."""
    text = text.lower().replace("-", " ").replace("&", " and ").replace("%", " percent ")
    words = []
    for raw in text.split():
        word = _PUNCT.sub("", raw).strip("'")
        if word:
            words.append(_SPOKEN.get(word, word))
    return words


def align(ref: list[str], hyp: list[str]) -> tuple[int, int, int]:
    """Minimum edit alignment: (substitutions, deletions, insertions) turning `ref` into `hyp`."""
    # cost[j] holds (edits, subs, dels, ins) for ref[:i] vs hyp[:j]; ties prefer substitutions.
    prev = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        cur = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            e, s, d, n = prev[j - 1]
            best = (e, s, d, n) if ref[i - 1] == hyp[j - 1] else (e + 1, s + 1, d, n)
            e, s, d, n = prev[j]
            best = min(best, (e + 1, s, d + 1, n))
            e, s, d, n = cur[j - 1]
            best = min(best, (e + 1, s, d, n + 1))
            cur.append(best)
        prev = cur
    _, subs, dels, ins = prev[-1]
    return subs, dels, ins


def read_jsonl(path: Path) -> list[tuple[Path, str]]:
    """(audio path, reference) pairs; relative audio paths are taken from the JSONL file's folder."""
    pairs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            audio, text = Path(row["audio"]).expanduser(), str(row["text"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequestError(f'{path}:{n}: expected {{"audio": path, "text": reference}}') from exc
        pairs.append((audio if audio.is_absolute() else path.parent / audio, text))
    if not pairs:
        raise InvalidRequestError(f"{path}: no utterances")
    return pairs


@dataclass(frozen=True)
class AsrUtterance:
    """One utterance: what was said, what the model heard, and its own word error rate."""

    audio: str
    reference: str
    hypothesis: str
    wer: float

    def to_json(self) -> dict[str, Any]:
        return {
            "audio": self.audio,
            "reference": self.reference,
            "hypothesis": self.hypothesis,
            "wer": self.wer,
        }


@dataclass(frozen=True)
class AsrResult:
    """Corpus word error rate and its parts, with the per-utterance details."""

    wer: float
    utterances: int
    words: int
    substitutions: int
    deletions: int
    insertions: int
    audio_s: float
    seconds: float
    rtf: float | None  # transcription seconds per audio second; None without audio
    model: str
    errors: tuple[AsrUtterance, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON of `mmrag eval asr --json`."""
        return {
            "wer": self.wer,
            "utterances": self.utterances,
            "words": self.words,
            "substitutions": self.substitutions,
            "deletions": self.deletions,
            "insertions": self.insertions,
            "audio_s": self.audio_s,
            "seconds": self.seconds,
            "rtf": self.rtf,
            "model": self.model,
            "errors": [u.to_json() for u in self.errors],
        }


def evaluate_asr(jsonl_path: str | Path, asr: Asr) -> AsrResult:
    """Transcribe every utterance and compute the corpus word error rate.

    Args:
        jsonl_path: lines of {"audio": path, "text": reference transcript}.
        asr: the speech recogniser (e.g. `WhisperAsr`); its `name` is reported as "model".

    Returns:
        The totals (`wer`, words, substitutions, deletions, insertions, audio and transcription seconds,
        `rtf`), the model name and the per-utterance details (`errors`).
    """
    pairs = read_jsonl(Path(jsonl_path))
    totals = {"words": 0, "substitutions": 0, "deletions": 0, "insertions": 0}
    audio_s = seconds = 0.0
    details = []
    for audio, reference in pairs:
        audio_s += AvDecoder(audio).probe().duration_s
        started = time.perf_counter()
        hypothesis = " ".join(s.text for s in asr.transcribe(audio))
        seconds += time.perf_counter() - started
        ref, hyp = normalize(reference), normalize(hypothesis)
        subs, dels, ins = align(ref, hyp)
        for key, value in zip(totals, (len(ref), subs, dels, ins), strict=True):
            totals[key] += value
        details.append(
            AsrUtterance(str(audio), reference, hypothesis, round((subs + dels + ins) / max(len(ref), 1), 4))
        )
    errors = totals["substitutions"] + totals["deletions"] + totals["insertions"]
    return AsrResult(
        wer=round(errors / max(totals["words"], 1), 4),
        utterances=len(pairs),
        words=totals["words"],
        substitutions=totals["substitutions"],
        deletions=totals["deletions"],
        insertions=totals["insertions"],
        audio_s=round(audio_s, 2),
        seconds=round(seconds, 2),
        rtf=round(seconds / audio_s, 4) if audio_s else None,
        model=asr.name,
        errors=tuple(details),
    )
