"""`rnnkit transcribe`: text from audio with a speech run (CTC; tasks/speech.py).

    rnnkit transcribe runs/speech_espeak_digits a.wav b.flac     # FILE<TAB>transcript, one line each
    rnnkit transcribe RUN a.wav --beam=8 --timestamps            # beam search; each word's start and end
    rnnkit transcribe RUN long.wav --stream --chunk-seconds=2    # chunk by chunk with the carried state
    rnnkit transcribe RUN --split=test --beam=8                  # WER/CER on the run's own test split
    rnnkit transcribe RUN --split=test --beam=8 --task.lexicon=false   # decoding settings may be changed
    rnnkit transcribe RUN --data=pocketsphinx                    # WER/CER on a folder of transcribed audio
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..config import parse_override
from ..data.batch import batches
from ..data.transcribed_audio import load_pocketsphinx_testdata, read_transcribed_dir
from ..plots.speech import plot_posteriogram
from ..runs import SavedRun, load, replace
from ..tasks import build_task
from ..tasks.speech.decoder import transcribe_batches
from ..tasks.speech.metrics import cer, wer
from ..tasks.speech.predictor import SpeechPredictor

EXAMPLES = """examples:
  rnnkit transcribe runs/speech_espeak_digits a.wav b.flac      # FILE<TAB>transcript
  rnnkit transcribe runs/speech_espeak_digits a.wav --beam=8 --timestamps
  rnnkit transcribe runs/speech_espeak_digits long.wav --stream --chunk-seconds=2   # a unidirectional run
  rnnkit transcribe runs/speech_fsdd_digits utterance.npy       # a run on precomputed features reads (T, F) .npy
  rnnkit transcribe runs/speech_fsdd_connected --split=test --beam=8   # greedy and beam WER/CER, posteriogram
  rnnkit transcribe runs/speech_fsdd_connected --split=test --beam=8 --task.lexicon=false   # beam alone
  rnnkit transcribe runs/speech_espeak_sentences --data=pocketsphinx   # real recordings, out of domain"""


DECODING = ("task.lexicon", "task.lm_order", "task.lm_alpha", "task.lm_beta")   # what --task.key=value may change


def load_speech(run_dir: str | Path, overrides: list[str] = ()) -> tuple[SavedRun, SpeechPredictor]:
    """A speech run (without its data) and its predictor; `overrides` may change the beam
    search's lexicon and word lm (see DECODING)."""
    saved = load(run_dir, tasks=("speech",), command="transcribe")
    wrong = [o for o in overrides if parse_override(o)[0] not in DECODING]
    if wrong:
        raise ValueError(f"transcribe changes only decoding settings ({', '.join(DECODING)}), got {' '.join(wrong)}")
    if not overrides:
        return saved, saved.predictor
    if not saved.meta.get("train_texts"):
        raise ValueError(f"{run_dir} kept no training transcripts for a lexicon or lm (its task.beam was 0)")
    task = build_task(replace(saved.cfg, overrides).task)
    return saved, task.predictor(saved.model, saved.meta)


def transcribe(args: argparse.Namespace, overrides: list[str]) -> int:
    if sum(bool(x) for x in (args.files, args.split, args.data)) != 1:
        raise ValueError("give audio FILEs, or --split=valid|test, or --data=FOLDER|pocketsphinx (one of them)")
    if args.beam < 0 or args.chunk_seconds <= 0:
        raise ValueError("--beam must be >= 0 and --chunk-seconds > 0")
    saved, predictor = load_speech(args.run_dir, overrides)
    if not args.files:
        return score(args, saved, predictor)
    if args.stream and not saved.model.streamable:
        raise ValueError(f"--stream needs a unidirectional model, but {args.run_dir} is bidirectional (a backward "
                         "layer needs the whole file); train one with --model.bidirectional=false")
    seconds, chunk = predictor.seconds, 0
    if args.stream:
        if seconds is None:
            raise ValueError(f"--stream needs the frame rate, which {args.run_dir}'s precomputed features lack")
        chunk = max(1, round(args.chunk_seconds / seconds)) * predictor.stride           # whole strides per chunk
    for name in args.files:
        def partial(so_far: torch.Tensor, name: str = name) -> None:        # what a live caption would show
            print(f"{name}\t{so_far.size(0) * seconds:.1f} s\t{predictor.decoder.text(so_far)}", file=sys.stderr,
                  flush=True)

        found = predictor.transcribe(name, beam=args.beam, chunk_frames=chunk, on_chunk=partial if chunk else None)
        print(f"{name}\t{found.text}", flush=True)
        if args.timestamps:
            for word, start, end in found.words:
                print(f"\t{start:.2f}\t{end:.2f}\t{word}" if seconds else f"\t{start:.0f}\t{end:.0f}\t{word}")
        if args.plot:
            _plot(args.run_dir, Path(name).stem, found.log_probs, predictor, found.pairs, found.text)
    return 0


def score(args: argparse.Namespace, saved: SavedRun, predictor: SpeechPredictor) -> int:
    """WER and CER (greedy, and beam with --beam) on a split of the run (by the task's own
    decoding pass) or a transcribed folder, one line per utterance for a folder, and the
    posteriogram of the first utterance."""
    decoder = predictor.decoder
    if args.split:
        split = getattr(saved.task.load(), args.split)
        if split is None:
            raise ValueError(f"this run's data has no {args.split} split")
        with torch.no_grad():
            found = transcribe_batches(saved.model, batches(split, 64), decoder, args.beam)
        refs, greedy, beam, rows = found.refs, found.greedy, found.beam, found.log_probs
    else:
        utts = load_pocketsphinx_testdata() if args.data == "pocketsphinx" else read_transcribed_dir(args.data)
        names, refs = [str(u.path) for u in utts], [u.text for u in utts]
        rows = [predictor.log_probs(u.path) for u in utts]
        greedy = [decoder.text(r) for r in rows]
        beam = [decoder.text(r, args.beam) for r in rows] if args.beam else []
    metrics = {"utterances": len(refs), "cer": cer(refs, greedy), "wer": wer(refs, greedy)}
    if args.beam:
        metrics |= {"beam": args.beam, "beam_cer": cer(refs, beam), "beam_wer": wer(refs, beam)}
    if args.data:
        for name, ref, hyp in zip(names, refs, beam if args.beam else greedy):
            print(f"{name}\t{hyp}\t(reference: {ref})")
    print(json.dumps({"data": args.split or args.data, **metrics}))
    _plot(args.run_dir, f"{args.split or Path(args.data).name}_0", rows[0], predictor, decoder.pairs(rows[0]),
          f"{greedy[0]} (reference: {refs[0]})")
    return 0


def _plot(run_dir: str, stem: str, log_probs: torch.Tensor, predictor: SpeechPredictor, pairs: list,
          title: str) -> None:
    png = plot_posteriogram(log_probs, predictor.decoder.alphabet.characters,
                            Path(run_dir) / "posteriograms" / f"{stem}.png", emitted=pairs, title=title,
                            seconds_per_frame=predictor.seconds)
    print(f"wrote {png}", file=sys.stderr)


def add_parsers(commands: argparse._SubParsersAction, **kind: object) -> None:
    p = commands.add_parser("transcribe", help="transcribe audio with a speech (CTC) run; WER/CER of a split",
                            description="Print the transcript of each audio file (any format libsndfile reads; "
                            ".raw is 16 kHz 16-bit mono; .npy is features) with a speech run.", epilog=EXAMPLES,
                            **kind)
    p.add_argument("run_dir", help="a run directory written by rnnkit train with task.name = 'speech'")
    p.add_argument("files", nargs="*", metavar="FILE", help="audio files (or .npy features) to transcribe")
    p.add_argument("--beam", type=int, default=0, metavar="N", help="prefix beam search of width N (0: greedy), "
                   "with the run's word lm and lexicon if it has them (--task.lexicon=, --task.lm_order=, "
                   "--task.lm_alpha=, --task.lm_beta= change them)")
    p.add_argument("--timestamps", action="store_true", help="each word's start and end in seconds "
                   "(in output frames for a run on precomputed features)")
    p.add_argument("--stream", action="store_true", help="read each file in chunks, carrying the recurrent state "
                   "(unidirectional runs)")
    p.add_argument("--chunk-seconds", "--chunk_seconds", dest="chunk_seconds", type=float, default=1.0,
                   metavar="S", help="with --stream: seconds of audio per chunk (default 1)")
    p.add_argument("--plot", action="store_true", help="write each file's posteriogram to RUN_DIR/posteriograms/")
    p.add_argument("--split", choices=["valid", "test"], help="instead of FILEs: WER/CER on this split of the run")
    p.add_argument("--data", metavar="FOLDER", help="instead of FILEs: WER/CER on a folder of audio with "
                   "transcripts, or 'pocketsphinx' (its 10 real test recordings)")


COMMANDS = {"transcribe": transcribe}
