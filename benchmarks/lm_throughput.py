"""Training throughput of the PTB "small" language model (Zaremba et al. 2014): rnnkit against a
minimal hand-written torch.nn.LSTM loop, on the same data, in one process.

    python benchmarks/lm_throughput.py            # 7 repeats of 40 iterations each, interleaved
    python benchmarks/lm_throughput.py --quick    # 3 repeats of 5 iterations: a smoke run

Both sides train 2 x 200 LSTM, embedding 200, vocabulary 10,000, batch 20, bptt 20, SGD lr 1,
gradient norm clipped at 5, with the state carried (and detached) from chunk to chunk.
- rnnkit: configs/lm_ptb_small.toml's task and model, one optimiser update at a time through the
  training engine's own `update()` (the body of `fit`);
- torch: nn.Embedding -> nn.LSTM(num_layers=2) -> nn.Linear, F.cross_entropy, torch.optim.SGD.
The two start from the same weights and read the same chunks. Blocks of iterations alternate,
with a pause before each (perf-notes: spinning OpenMP threads of one block slow the next);
the ratio is the median of per-repeat time ratios; `cpu` is process CPU time / wall time
(about 2.0 when both cores were ours; throw runs away where it is well below).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.runs.configs import load_config
from rnnkit.tasks import build_task
from rnnkit.train.loop import Progress, stream, update

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "lm_ptb_small.toml"


class TorchLM(nn.Module):
    def __init__(self, vocab_size: int, size: int, layers: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, size)
        self.lstm = nn.LSTM(size, size, layers, batch_first=True)
        self.decoder = nn.Linear(size, vocab_size)

    def forward(self, x, state=None):
        y, state = self.lstm(self.embedding(x), state)
        return self.decoder(y), state


def copy_weights(lm, ref: TorchLM) -> None:
    """The rnnkit model's weights into the torch model (same names up to the layer suffix)."""
    with torch.no_grad():
        ref.embedding.weight.copy_(lm.embedding.weight)
        ref.decoder.weight.copy_(lm.decoder.weight)
        ref.decoder.bias.copy_(lm.decoder.bias)
        for i, layer in enumerate(lm.rnn.layers):
            for name, p in layer.cell.named_parameters():
                getattr(ref.lstm, f"{name}_l{i}").copy_(p)


def timed_block(step, n: int) -> tuple[float, float]:
    time.sleep(0.05)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        step()
    wall = time.perf_counter() - wall
    return wall, (time.process_time() - cpu) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats of 5 iterations")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=40, help="iterations per block")
    args = parser.parse_args()
    repeats, block = (3, 5) if args.quick else (args.repeats, args.iterations)

    cfg = load_config(CONFIG, ["--train.epochs=0", "--train.iterations=1000000"])
    torch.manual_seed(cfg.seed)
    task = build_task(cfg.task)
    data = task.load()
    lm = task.build_model(cfg.model, task.describe(data))
    ref = TorchLM(len(data.vocab), cfg.model.hidden_size, cfg.model.num_layers)
    copy_weights(lm, ref)
    device = torch.device("cpu")

    # rnnkit: the engine's update() over its own chunk stream
    optimizer = torch.optim.SGD(lm.parameters(), lr=cfg.optim.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    progress, chunks = Progress(), stream(task, data, cfg.train, cfg.seed, (0, 0, 0))
    ours = lambda: update(lm, task, chunks, optimizer, schedule, scaler, cfg.train, progress, device)

    # torch: the same chunks, a hand-written loop
    ref_optimizer = torch.optim.SGD(ref.parameters(), lr=cfg.optim.lr)
    ref_chunks = stream(task, data, cfg.train, cfg.seed, (0, 0, 0))
    ref_state = [None]

    def theirs() -> None:
        chunk, fresh, _ = next(ref_chunks)
        logits, state = ref(chunk.inputs, None if fresh else ref_state[0])
        loss = F.cross_entropy(logits.flatten(0, 1), chunk.targets.flatten())
        ref_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(ref.parameters(), cfg.train.clip)
        ref_optimizer.step()
        ref_state[0] = tuple(s.detach() for s in state)

    tokens = cfg.task.settings["batch_size"] * cfg.train.bptt
    for fn in (ours, theirs):                                  # warm-up
        timed_block(fn, 2)
    rows: dict[str, list[tuple[float, float]]] = {"rnnkit": [], "torch": []}
    for r in range(repeats):
        order = [("rnnkit", ours), ("torch", theirs)][:: 1 if r % 2 == 0 else -1]
        for name, fn in order:
            rows[name].append(timed_block(fn, block))
    ratios = [a[0] / b[0] for a, b in zip(rows["rnnkit"], rows["torch"])]
    print(f"PTB small (2 x 200 LSTM, V={len(data.vocab)}, batch 20, bptt 20, SGD); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {repeats} repeats x {block} iterations")
    print("| contender | ms / iteration | tokens/s | cpu |")
    print("|---|---|---|---|")
    for name, values in rows.items():
        ms = statistics.median(w for w, _ in values) / block * 1000
        cpu = statistics.median(c for _, c in values)
        print(f"| {name} | {ms:.1f} | {tokens / ms * 1000:,.0f} | {cpu:.2f} |")
    print(f"rnnkit time / torch time: {statistics.median(ratios):.3f} (median of per-repeat ratios; "
          f"target <= 1.05)")


if __name__ == "__main__":
    main()
