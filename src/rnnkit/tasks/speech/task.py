"""Speech recognition with CTC (Graves et al. 2006): feature sequences -> a Deep Speech-style
CTCModel (Hannun et al. 2014; models/ctc.py) -> per-frame log-probabilities of characters + blank.

    [task] name = "speech", source = "fsdd" | "fsdd_connected" | "espeak_digits" | "espeak_sentences" |
           "folder" (path = a folder of audio with transcripts; see _speech_data.py)

The loss is torch's CTC loss with blank 0, each utterance's divided by its transcript length and
averaged over the batch. zero_infinity stays off: an utterance too short for its transcript
(after the front end's stride) is refused by `load` with its name, rather than trained on as
nothing. SpecAugment (Park et al. 2019) masks training features when freq_masks or time_masks > 0
(the frames before context stacking: a masked band or frame is masked in every stacked copy).
Metrics: loss, then CER and WER of greedy decoding, `accuracy` (exact transcripts) for isolated
digits, and with beam > 0 `beam_cer` and `beam_wer` of prefix beam search, with a word n-gram of
the training transcripts when lm_order > 0 (Hannun et al. 2014, eq. 2) and a lexicon of their
words when lexicon = true.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...config import ModelConfig
from ...data.alphabet import Alphabet, ctc_frames_needed, normalize
from ...data.audio_features import stack_context
from ...data.batch import Batch, Splits
from ...data.labelled import pad
from ...data.pairs import bucketed_pairs
from ...data.spec_augment import spec_augment
from ...models.ctc import ConvFront, CTCModel, DenseFront
from ...models.ctc_decode import CTCDecoder
from ...models.stack import build_rnn
from ...plots.speech import plot_posteriogram
from ..base import Meta, Metrics
from .data import SOURCES, load_examples
from .decoder import build_decoder, ctc_loss, transcribe_batches, trimmed
from .metrics import cer, wer, word_accuracy
from .predictor import SpeechPredictor
from .stream import seconds_per_frame

FRONTS = ("dense", "conv")


@dataclass(frozen=True)
class SpeechSplits(Splits):
    """The splits with what their targets and inputs are made of: the alphabet's characters, the
    front end's feature settings (None for precomputed features) and the training transcripts."""

    characters: str = ""
    features: dict | None = None
    train_texts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SpeechRecognition:
    source: str = "fsdd"            # fsdd, fsdd_connected, espeak_digits, espeak_sentences or folder (data.py)
    path: str = ""                  # folder: the data; espeak_*: where the audio is written (default: the cache)
    seed: int = 0                   # the data's own seed (splits, strings, synthesis)
    valid_fraction: float = 0.1     # fsdd / a folder without valid/: the share held out
    test_fraction: float = 0.2      # ... and for test
    strings: int = 3000             # fsdd_connected: training strings ...
    eval_strings: int = 500         # ... and valid and test strings each
    min_digits: int = 1             # fsdd_connected: digits per string, at least ...
    max_digits: int = 7             # ... and at most
    utterances: int = 2000          # espeak_*: training utterances ...
    eval_utterances: int = 200      # ... and valid and test ones each, spoken by held-out voices
    valid_voices: int = 2           # espeak voice variants held out for valid, and for test
    test_voices: int = 3            # espeak voice variants held out for test
    snr_db: tuple[float, float] = (10.0, 30.0)   # espeak_*: white noise, drawn per utterance
    features: str = "logmel"        # audio sources: logmel or mfcc (FSDD ships 13 MFCCs)
    n_mels: int = 40                # logmel: mel bands
    n_mfcc: int = 13                # mfcc: coefficients
    win_ms: float = 25.0            # analysis window
    hop_ms: float = 10.0            # frame step
    context: int = 0                # frames stacked on each side (Deep Speech: 5 to 9)
    normalize: bool = True          # per-utterance mean/variance normalisation of the features
    front: str = "dense"            # dense (clipped-ReLU layers) or conv (causal, strided)
    front_size: int = 128           # units (dense) or channels (conv) of the front end
    front_layers: int = 1           # dense: layers (0: the features go straight to the rnn)
    kernel: int = 5                 # conv: frames per filter ...
    stride: int = 2                 # ... and time subsampling
    clip: float = 20.0              # the clipped ReLU's ceiling
    front_dropout: float = 0.0      # dropout after each front-end layer
    freq_masks: int = 0             # SpecAugment, training only
    freq_width: int = 8             # SpecAugment: widest frequency mask (bins)
    time_masks: int = 0             # SpecAugment: time masks per utterance
    time_width: int = 20            # SpecAugment: widest time mask (frames)
    beam: int = 0                   # > 0: also decode with prefix beam search of this width
    lm_order: int = 0               # > 0: beam search with a word n-gram of the training transcripts
    lm_alpha: float = 0.5           # beam search: weight of the word n-gram's log-probability
    lm_beta: float = 1.0            # beam search: bonus per word (offsets the n-gram's pull to short outputs)
    lexicon: bool = False           # beam search keeps only words of the training transcripts
    bucket_size: int = 0            # > 0: fixed length-bucketed batches; train.batch_size then counts them
    alphabet: str = "english"       # english (space, a-z, '), auto (the training transcripts' characters),
                                    # or the characters themselves, e.g. " abcdefghijklmnopqrstuvwxyzáéíóúñü'"

    carries_state = False

    def __post_init__(self) -> None:
        checks = [(self.source in SOURCES, f"task.source must be one of {list(SOURCES)}, got {self.source!r}"),
                  (self.source != "folder" or bool(self.path), "task.source = 'folder' needs task.path, the folder"),
                  (self.front in FRONTS, f"task.front must be one of {list(FRONTS)}, got {self.front!r}"),
                  (self.features in ("logmel", "mfcc"), f"task.features must be logmel or mfcc, got {self.features!r}"),
                  (0 < self.valid_fraction < 1 and 0 <= self.test_fraction < 1
                   and self.valid_fraction + self.test_fraction < 1,
                   "task.valid_fraction must be in (0, 1), test_fraction in [0, 1), their sum < 1"),
                  (1 <= self.min_digits <= self.max_digits, "task.min_digits and max_digits need 1 <= min <= max"),
                  (min(self.strings, self.eval_strings, self.utterances, self.eval_utterances, self.front_size) >= 1,
                   "task.strings, eval_strings, utterances, eval_utterances and front_size must be >= 1"),
                  (min(self.front_layers, self.context, self.valid_voices, self.test_voices, self.beam,
                       self.bucket_size, self.lm_order, self.freq_masks, self.freq_width, self.time_masks,
                       self.time_width) >= 0,
                   "task counts and widths must be >= 0"),
                  (1 <= self.stride <= self.kernel, "task.stride must be in 1..task.kernel"),
                  (0 <= self.front_dropout < 1 and self.clip > 0, "task.front_dropout must be in [0, 1), clip > 0"),
                  (bool(self.alphabet), "task.alphabet must be 'english', 'auto' or the characters"),
                  (self.beam > 0 or not (self.lm_order or self.lexicon),
                   "task.lm_order and lexicon need task.beam > 0")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def load(self) -> SpeechSplits:
        examples, feature_cfg = load_examples(self)
        texts = {name: [normalize(text) for _, text, _ in part] for name, part in examples.items()}
        alphabet = self._alphabet(texts["train"])
        ids = {name: [alphabet.encode(t, name=n) for t, (_, _, n) in zip(texts[name], part)]
               for name, part in examples.items()}
        for name, part in examples.items():
            self._check_feasible(part, ids[name])
        splits = {name: _batch([f for f, _, _ in part], ids[name]) for name, part in examples.items()}
        if self.bucket_size:       # every split, so evaluation is bucketed too; fillers have 0 frames
            splits = {name: bucketed_pairs(split, self.bucket_size, seed=self.seed, filler_length=0)
                      for name, split in splits.items()}
        return SpeechSplits(splits["train"], splits["valid"], splits.get("test"), characters=alphabet.characters,
                            features=None if feature_cfg is None else asdict(feature_cfg),
                            train_texts=tuple(texts["train"]),
                            ids={"source": self.source, "seed": self.seed,      # split.json: each split's utterances
                                 **{name: [n for _, _, n in part] for name, part in examples.items()}})

    def describe(self, data: Splits) -> Meta:
        """The alphabet, the front end's feature settings, the training features' per-feature
        mean and standard deviation, and with beam > 0 the training transcripts (for a lexicon
        and word lm at decoding time)."""
        if not isinstance(data, SpeechSplits):
            raise TypeError("SpeechRecognition.describe needs the splits of SpeechRecognition.load()")
        x, lengths, _, _ = trimmed(data.train)
        frames = x[torch.arange(x.size(1)) < lengths[:, None]].double()           # (sum T, F)
        return {"characters": data.characters, "num_features": int(frames.size(1)), "mean": frames.mean(0).tolist(),
                "std": frames.std(0).clamp_min(1e-8).tolist(), "features": data.features,
                "train_texts": list(data.train_texts) if self.beam else []}

    def _alphabet(self, train_texts: list[str]) -> Alphabet:
        """English (Deep Speech's characters), every character of the training transcripts (space
        first, then sorted: any language), or the characters the config lists."""
        if self.alphabet == "english":
            return Alphabet()
        if self.alphabet == "auto":
            seen = set("".join(train_texts)) - {" "}
            return Alphabet(" " + "".join(sorted(seen)))
        return Alphabet(self.alphabet)

    def _check_feasible(self, part: list, ids: list[list[int]]) -> None:
        """CTC needs an output frame per label plus one between equal neighbours (Graves et al.
        2006): the utterances that have too few are named, all of them, before any training."""
        lengths = self._front(1).output_lengths(torch.tensor([len(f) for f, _, _ in part]))
        bad = [f"{name} ({n} frames, needs {ctc_frames_needed(t)})" for (_, _, name), n, t
               in zip(part, lengths.tolist(), ids) if n < ctc_frames_needed(t)]
        if bad:
            raise ValueError(f"{len(bad)} utterance(s) are too short for their transcripts under CTC"
                             f"{f' with a stride of {self.stride}' if self.front == 'conv' else ''}: "
                             f"{'; '.join(bad[:10])}{' ...' if len(bad) > 10 else ''}. Remove them, fix "
                             "their transcripts, or use a smaller hop_ms or stride")

    def _front(self, size: int) -> nn.Module:
        if self.front == "conv":
            return ConvFront(size, self.front_size, kernel=self.kernel, stride=self.stride, clip=self.clip,
                             dropout=self.front_dropout)
        return DenseFront(size, [self.front_size] * self.front_layers, clip=self.clip, dropout=self.front_dropout)

    def build_model(self, cfg: ModelConfig, meta: Meta) -> CTCModel:
        """The model `cfg` describes for data described by `meta`, with its decoder (alphabet,
        lexicon and word lm) for the metrics."""
        front = self._front(meta["num_features"])
        return CTCModel(front, build_rnn(cfg, front.output_size), len(meta["characters"]) + 1,
                        input_size=meta["num_features"], input_dropout=cfg.input_dropout,
                        output_dropout=cfg.output_dropout, feature_mean=torch.tensor(meta["mean"]),
                        feature_std=torch.tensor(meta["std"]), decoder=build_decoder(meta, self))

    def predictor(self, model: nn.Module, meta: Meta) -> SpeechPredictor:
        return SpeechPredictor(self, model, meta)

    def loss(self, model: nn.Module, batch: Batch, state: Any) -> tuple[Tensor, Any]:
        x, lengths, targets, target_lengths = trimmed(batch)
        if self.freq_masks or self.time_masks:
            x = self._augment(x, lengths)
        log_probs, _ = model(x, None, lengths)                                     # (B, T', C)
        out_lengths = getattr(model, "module", model).output_lengths(lengths)
        return ctc_loss(log_probs, targets, out_lengths, target_lengths).mean(), None

    def _augment(self, x: Tensor, lengths: Tensor) -> Tensor:
        x = x.clone()
        k = self.context
        width = x.size(-1) // (2 * k + 1)                            # the features of one frame
        for i, n in enumerate(lengths.tolist()):
            # mask the frames themselves (the middle block of a stacked row is frame t), then stack
            # again, so a masked band or frame is masked wherever the context repeats it
            frames = x[i, :n, k * width:(k + 1) * width]
            masked = spec_augment(frames, None, freq_masks=self.freq_masks, freq_width=self.freq_width,
                                  time_masks=self.time_masks, time_width=self.time_width)
            x[i, :n] = stack_context(masked, k)
        return x

    def evaluate(self, model: nn.Module, batches: Iterable[Batch]) -> Metrics:
        found = transcribe_batches(model, batches, _decoder(model), self.beam)
        refs, greedy = found.refs, found.greedy
        metrics = {"loss": found.nll / len(refs), "cer": cer(refs, greedy), "wer": wer(refs, greedy)}
        if self.source == "fsdd":                          # isolated digits: exact transcripts are accuracy
            metrics["accuracy"] = word_accuracy(refs, greedy)
        if self.beam:
            metrics |= {"beam_cer": cer(refs, found.beam), "beam_wer": wer(refs, found.beam)}
        return metrics

    def plot(self, model: nn.Module, data: Splits, folder: Path) -> Path:
        """The posteriogram of the first validation utterance, as folder/posteriogram_valid.png
        (for a training loop's end-of-run plots, as ridge training calls ChaoticSeries.plot)."""
        x, lengths, targets, target_lengths = trimmed(data.valid.select(slice(0, 1)))
        was_training, device = model.training, next(model.parameters()).device
        with torch.no_grad():
            log_probs = model.eval()(x.to(device), None, lengths.to(device))[0][0].cpu()
        model.train(was_training)
        decoder = _decoder(model)
        reference = decoder.alphabet.decode(targets[0, :int(target_lengths[0])].tolist())
        features = data.features if isinstance(data, SpeechSplits) else None
        return plot_posteriogram(log_probs, decoder.alphabet.characters, Path(folder) / "posteriogram_valid.png",
                                 emitted=decoder.pairs(log_probs), title=f"{decoder.text(log_probs)} (reference: "
                                 f"{reference})", seconds_per_frame=seconds_per_frame({"features": features},
                                                                                      model.front.stride))


def _decoder(model: nn.Module) -> CTCDecoder:
    """The decoder a speech model was built with (SpeechRecognition.build_model gives it one)."""
    if not isinstance(model, CTCModel) or model.decoder is None:
        raise TypeError("speech metrics need a CTCModel built by SpeechRecognition.build_model (it has the decoder)")
    return model.decoder


def _batch(features: list, ids: list[list[int]]) -> Batch:
    """A split as one padded Batch: inputs (N, T, F), targets (N, S) padded with the blank (0)."""
    x, lengths = pad([torch.from_numpy(f) for f in features])
    targets, target_lengths = pad([torch.tensor(t, dtype=torch.long) for t in ids])
    return Batch(x, targets, lengths, target_lengths)
